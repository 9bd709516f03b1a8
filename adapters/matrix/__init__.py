"""Matrix, on matrix-nio: `MatrixAdapter` syncs with the homeserver and implements `Platform`."""

from adapters.matrix.adapter import MatrixAdapter

__all__ = ["MatrixAdapter"]

from .predict import predict, representations

__all__ = ["predict", "representations"]

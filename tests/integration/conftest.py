from tests.support.scheduling import h

__all__ = ["h"]

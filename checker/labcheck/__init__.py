"""labcheck: the autograder and learner CLI of Kubernetes Networking Labs."""

__version__ = "0.1.0"

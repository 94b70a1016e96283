"""dapp_eval: evaluate domestic abuse perpetrator programmes the Project Mirabal way."""
__version__ = "0.1.0"

"""edged-train: fine-tune image classifiers and export int8 TFLite models for edged."""

__version__ = "0.1.0"

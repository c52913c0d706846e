"""stylelib: reproducible implementations of neural style-transfer papers.

Modules: :mod:`stylelib.images` (loading and saving), :mod:`stylelib.data`
(benchmark image sets), :mod:`stylelib.vgg` (VGG-19 features),
:mod:`stylelib.losses`, :mod:`stylelib.metrics`, :mod:`stylelib.models`
(one file per paper), :mod:`stylelib.cli` (the ``stylelib`` command).
"""

__version__ = "0.1.0"

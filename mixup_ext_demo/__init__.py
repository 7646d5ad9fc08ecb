"""The demo of mixup_ext, shipped beside the library (``pip install
mixup-ext[demo]`` brings its extras): training code, kept out of the
``mixup_ext`` package so that the library package holds the library.
Run it as ``python -m mixup_ext.demo`` (or ``python -m mixup_ext_demo``)."""

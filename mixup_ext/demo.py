"""``python -m mixup_ext.demo``: trains a small model with and without Mixup
and draws what Mixup is for (``--help`` says how). The training code is the
``mixup_ext_demo`` package, installed beside this one, so that the library
package holds the library; this module is only its front door."""

from mixup_ext_demo.demo import main

if __name__ == "__main__":
    main()

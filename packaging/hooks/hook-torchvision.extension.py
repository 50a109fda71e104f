"""Collect torchvision's compiled operators, which the import graph cannot see.

``torchvision.extension`` loads ``_C_stable`` (nms, roi_align, ...) and ``torchvision.io.image``
loads ``image_stable`` with ``torch.ops.load_library`` from files beside the package, not with an
import: without them a bundle dies with ``operator torchvision::nms does not exist``. The
contributed hook still names the old ``torchvision._C`` module, and ``collect_dynamic_libs``'
default patterns (``lib*.so``) miss these names. Collecting every shared library of the package
keeps them at ``torchvision/`` in the bundle; PyInstaller's dependency analysis brings the
libraries they link (``torchvision.libs/``) along.
"""

from PyInstaller.utils.hooks import collect_dynamic_libs

binaries = collect_dynamic_libs("torchvision", search_patterns=["*.so", "*.pyd", "*.dylib"])

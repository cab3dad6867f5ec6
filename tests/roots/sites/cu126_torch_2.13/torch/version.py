from typing import Optional

__all__ = ['__version__', 'debug', 'cuda', 'git_version', 'hip', 'rocm', 'xpu']
__version__ = '2.13.0+cu126'
debug = False
cuda: Optional[str] = '12.6'
git_version = 'a1b2c3d'
hip: Optional[str] = None
rocm: Optional[str] = None
xpu: Optional[str] = None

from typing import Optional

__all__ = ['__version__', 'debug', 'cuda', 'git_version', 'hip', 'rocm', 'xpu']
__version__ = '2.5.1+cu124'
debug = False
cuda = '12.4'
git_version = 'a1b2c3d'
hip = None

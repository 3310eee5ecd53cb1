"""Install the repository's top-level folders under the one namespace ``l2l`` (DESIGN.md, "Layout").

``theory/``, ``numerics/`` and ``proofs/`` stay where the user's design card puts them but become
``l2l.theory``, ``l2l.numerics`` and ``l2l.proofs``: site-packages gains the single top-level
package ``l2l``. Everything else (metadata, dependencies, scripts) is in ``pyproject.toml``.
"""

from setuptools import find_packages, setup

FOLDERS = ("theory", "numerics", "proofs")

setup(
    package_dir={"l2l": "l2l", **{f"l2l.{f}": f for f in FOLDERS}},
    packages=["l2l"] + [f"l2l.{f}" for f in FOLDERS] + [f"l2l.{f}.{p}" for f in FOLDERS for p in find_packages(f)],
    package_data={"l2l.proofs": ["templates/*.j2"]},
)

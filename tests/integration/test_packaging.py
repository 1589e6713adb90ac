"""The image is built the way CI builds: docker/Dockerfile installs from the
same package lists (scripts/packages.sh) and runs the same build script
(scripts/build.sh) as scripts/setup.sh. Docker itself does not run here, so
this checks the recipe, and that the runtime package list really provides
every shared library the binary needs."""

import os
import re
import shutil
import subprocess

import pytest

ROOT = os.path.normpath(os.path.join(os.path.dirname(__file__), "..", ".."))


def read(path):
    with open(os.path.join(ROOT, path)) as f:
        return f.read()


def package_list(name):
    out = subprocess.run(["bash", "-c", '. scripts/packages.sh && echo "${%s[@]}"' % name],
                         cwd=ROOT, capture_output=True, text=True, check=True).stdout
    return out.split()


def test_dockerfile_uses_the_ci_recipe():
    docker = read("docker/Dockerfile")
    setup = read("scripts/setup.sh")
    runs = " ".join(re.findall(r"^RUN (.*(?:\\\n.*)*)", docker, re.M))
    assert "install_missing \"${BUILD_PKGS[@]}\"" in runs
    assert "install_missing \"${RUNTIME_PKGS[@]}\"" in runs
    assert "scripts/build.sh build -DCMAKE_BUILD_TYPE=Release" in runs
    assert "scripts/build.sh build -DCMAKE_BUILD_TYPE=Release" in setup
    assert ". scripts/packages.sh" in setup and "BUILD_PKGS" in setup
    assert re.search(r"^FROM debian:12", docker, re.M)
    assert re.search(r"^USER (?!root)\w+", docker, re.M), "the image must not run as root"


@pytest.mark.skipif(shutil.which("dpkg") is None or shutil.which("readelf") is None,
                    reason="needs dpkg and readelf")
def test_runtime_packages_provide_every_shared_library():
    binary = os.path.join(ROOT, "build", "threadstore")
    if not os.path.exists(binary):
        pytest.skip("no Release build")
    needed = re.findall(r"\(NEEDED\)\s+Shared library: \[(.+?)\]",
                        subprocess.run(["readelf", "-d", binary], capture_output=True,
                                       text=True, check=True).stdout)
    assert needed
    ldd = subprocess.run(["ldd", binary], capture_output=True, text=True, check=True).stdout
    paths = dict(re.findall(r"^\s*(\S+) => (/\S+)", ldd, re.M))
    runtime = set(package_list("RUNTIME_PKGS")) | {"libc6"}  # libc6 is in every image
    for lib in needed:
        owner = subprocess.run(["dpkg", "-S", os.path.realpath(paths[lib])],
                               capture_output=True, text=True).stdout
        if not owner:  # merged /usr: dpkg knows the /lib path
            owner = subprocess.run(["dpkg", "-S", paths[lib]], capture_output=True,
                                   text=True).stdout
        pkg = owner.split(":")[0].strip()
        assert pkg in runtime, "%s comes from %s, not in RUNTIME_PKGS %s" % (lib, pkg,
                                                                           sorted(runtime))

"""Rewrite the image names in an extracted `docker save` archive to their
fully qualified form (docker.io/library/x, docker.io/org/x).

docker save records Docker's short names (kindest/kindnetd:tag), while kind's
node-image build compares them with fully qualified names
(docker.io/kindest/kindnetd:tag) and pulls whatever does not match.
usage: qualify-archive-tags.py <extracted-archive-dir>
"""
import json
import os
import sys


def qualify(ref: str) -> str:
    first = ref.split("/", 1)[0]
    if "/" in ref and ("." in first or ":" in first or first == "localhost"):
        return ref
    if "/" not in ref:
        return "docker.io/library/" + ref
    return "docker.io/" + ref


def main(d: str) -> None:
    mpath = os.path.join(d, "manifest.json")
    with open(mpath) as f:
        manifest = json.load(f)
    for entry in manifest:
        entry["RepoTags"] = [qualify(t) for t in entry.get("RepoTags") or []]
    with open(mpath, "w") as f:
        json.dump(manifest, f)
    rpath = os.path.join(d, "repositories")
    if os.path.exists(rpath):
        with open(rpath) as f:
            repos = json.load(f)
        with open(rpath, "w") as f:
            json.dump({qualify(k + ":x").rsplit(":", 1)[0]: v for k, v in repos.items()}, f)


if __name__ == "__main__":
    main(sys.argv[1])

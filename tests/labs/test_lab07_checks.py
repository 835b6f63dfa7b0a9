"""Lab 07's parsing and judging, without a cluster: crictl's image list, the app's answers,
and the verdict on a count that must grow in Redis."""

from __future__ import annotations

import json
import sys

from labcheck.checks.outcome import Status
from labcheck.checks.kinds.python import load_lab_functions
from labcheck.loader import find_lab

load_lab_functions(find_lab("07").folder)
checks = sys.modules["labcheck_lab_07_own_two_container_app"]


def test_image_names_as_containerd_lists_them():
    assert checks._reference("myrepo/web-app:latest") == "docker.io/myrepo/web-app:latest"
    assert checks._reference("redis:6.0") == "docker.io/library/redis:6.0"
    assert checks._reference("myrepo/redis") == "docker.io/myrepo/redis:latest"
    assert checks._reference("localhost:5000/app:1") == "localhost:5000/app:1"


def test_crictl_listing_maps_every_tag_to_its_id():
    listing = json.dumps({"images": [{"id": "sha256:abc", "repoTags": ["docker.io/myrepo/web-app:latest"]},
                                     {"id": "sha256:def", "repoTags": []}]})
    assert checks.node_images(listing) == {"docker.io/myrepo/web-app:latest": "sha256:abc"}
    assert checks.node_images("not json") == {}


def test_growing_counts_that_redis_holds_pass():
    answers = checks._answers("200 Hello from p: visit number 4, counted\n200 Hello from p: visit number 5, counted\n")
    assert checks._judge_counts(answers, 3, 5, "the app", "localhost", "GET visits").status == Status.PASS


def test_a_name_that_does_not_resolve_is_a_final_fail_naming_it():
    body = "cannot reach Redis at redis:6379: getaddrinfo ENOTFOUND redis"
    outcome = checks._judge_counts(checks._answers(f"503 {body}\n503 {body}\n"), 0, 0, "the app", "redis", "GET visits")
    assert outcome.status == Status.FAIL and outcome.final
    assert "the name 'redis' in REDIS_HOST does not resolve" in outcome.cause


def test_counts_redis_does_not_hold_fail():
    answers = checks._answers("200 visit number 1\n200 visit number 2\n")
    outcome = checks._judge_counts(answers, 7, 7, "the app", "localhost", "GET visits")
    assert outcome.status == Status.FAIL and "does not follow" in outcome.summary


def test_no_answer_at_all_is_not_final():
    outcome = checks._judge_counts(checks._answers("000 \n000 \n"), 0, 0, "node", None, "GET visits")
    assert outcome.status == Status.FAIL and not outcome.final

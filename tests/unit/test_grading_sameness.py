"""Same-cluster detection: a copied submission, relabelled and signed again, is paired with its original;
learners on clusters of their own are not. (Two genuinely separate real clusters: tests/e2e/test_grading.py.)"""

from __future__ import annotations

import csv
import io
import json
import re
import uuid

import pytest

from labcheck.grading import sameness, submission
from tests.conftest import run_labcheck
from tests.grading_data import make_class, make_submission, resign

KEY = submission.CourseKey(b"the course key of the sameness tests!!")


@pytest.fixture()
def key_file(tmp_path):
    path = tmp_path / "course.key"
    path.write_bytes(KEY.secret)
    return path


def graded(folder, out, key_file):
    done = run_labcheck("grade", "01", str(folder), "--course-key", str(key_file), "-o", str(out))
    rows = {r["learner"]: r for r in csv.DictReader(io.StringIO((out / "grades.csv").read_text()))}
    return done, rows, (out / "report.txt").read_text()


def test_a_copy_relabelled_and_signed_again_is_paired_with_its_original(tmp_path, key_file):
    folder = tmp_path / "in"
    make_class(folder, 8, key=KEY)
    original = folder / "learner006.json"
    resign(original, KEY, lambda d: d["learner"].update(id="mallory", name="Mallory"), to=folder / "mallory.json")
    done, rows, report = graded(folder, tmp_path / "out", key_file)
    assert done.returncode == 0, done.stderr
    assert rows["mallory"]["integrity"] == "verified" and rows["mallory"]["total"] == rows["learner006"]["total"]
    assert rows["mallory"]["same_cluster_as"] == "learner006 (same cluster)"
    assert rows["learner006"]["same_cluster_as"] == "mallory (same cluster)"
    assert "Submissions from one cluster" in report
    assert re.search(r"learner006 and mallory: same cluster \(UID of .*\)", report)
    others = [r for l, r in rows.items() if l not in ("mallory", "learner006")]
    assert all(r["same_cluster_as"] == "" for r in others)  # clusters of their own share nothing


def test_learners_on_clusters_of_their_own_are_never_paired(tmp_path, key_file):
    folder = tmp_path / "in"
    make_class(folder, 14, key=KEY)
    done, rows, report = graded(folder, tmp_path / "out", key_file)
    assert done.returncode == 0 and all(r["same_cluster_as"] == "" for r in rows.values())
    assert "from one cluster" not in report


def test_two_files_of_one_learner_are_not_a_pair(tmp_path, key_file):
    folder = tmp_path / "in"
    folder.mkdir()
    make_submission(folder, "ana", 2, key=KEY)
    resign(make_submission(folder, "ana", 4, key=KEY, file_name="ana-2.json"), KEY,
           lambda d: d.update(submitted_at="2099-01-01T00:00:00+00:00"))
    _done, rows, report = graded(folder, tmp_path / "out", key_file)
    assert rows["ana"]["same_cluster_as"] == "" and "from one cluster" not in report


def test_new_uids_but_the_same_times_and_addresses_are_a_possible_pair(tmp_path, key_file):
    folder = tmp_path / "in"
    folder.mkdir()
    original = make_submission(folder, "ana", 6, key=KEY)

    def new_uids(document):
        text = re.sub(r"[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}",
                      lambda m: str(uuid.uuid4()), json.dumps(document["evidence"]))
        document["evidence"] = json.loads(text)
        document["learner"]["id"] = "eve"

    resign(original, KEY, new_uids, to=folder / "eve.json")
    _done, rows, report = graded(folder, tmp_path / "out", key_file)
    assert rows["eve"]["same_cluster_as"] == "ana (possibly)"
    assert re.search(r"ana and eve: possibly \(.*created.*\)", report)


def test_facts_are_bounded_and_pairs_name_what_they_share():
    calls = [{"op": "list", "args": {"kind": "Pod", "namespace": "lab01"}, "result": [
        {"metadata": {"name": f"p{n}", "namespace": "lab01", "uid": f"u{n}", "creationTimestamp": f"t{n}"},
         "status": {"podIP": f"10.0.0.{n}"}} for n in range(1000)]}]
    facts = sameness.facts(calls, "lab01")
    assert len(facts) == sameness.MAX_FACTS and facts[0][0] == "uid"
    records = {k: {"learner": k, "fingerprint": sameness.facts(calls[:1], "lab01")} for k in ("a", "b")}
    (pair,) = sameness.pairs(records)
    assert pair.strength == "same cluster" and pair.shared[0].startswith("UID of Pod lab01/")

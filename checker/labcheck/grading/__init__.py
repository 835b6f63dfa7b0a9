"""Instructors: grading a whole class, from submission files or live clusters.

    submission.py  `labcheck submit`: a learner's evidence, signed; reading one back as data only
    roster.py      live grading: a roster of contexts or classroom namespaces, each kind read once
    pool.py        a worker pool with a time limit per learner
    store.py       durable append-only results, resume, shards and merge
    records.py     one learner's result (what the store keeps and the outputs read)
    outputs.py     CSV gradebook, JSON, JUnit XML, Gradescope results.json
    report.py      the class report: pass rate per step, most common failing check and cause
    batch.py       one grading run from sources to outputs
    commands.py    the `submit` and `grade` commands (click only; the rest is imported when used)
"""

"""Instructors: grading a whole class, from submission files or live clusters.

    submission.py  `labcheck submit`: a learner's evidence, signed; reading one back as data only
    challenge.py   challenges graded as one-step labs: the learner's signed record (hints, start, fix)
                   and what the gradebook shows of it
    shapes.py      evidence objects must have the shape the Kubernetes API gives them
    roster.py      live grading: a roster of contexts or classroom namespaces, each kind read once;
                   what the grader cannot reach from where it runs is "not gradable here"
    gradable.py    which steps need a node or the learner's machine (the table in docs/instructors.md)
    rbac.py        RoleBindings that give the grader exec only in the roster's namespaces
    pool.py        a worker pool with a time limit per learner; the memory budget of files in flight
    store.py       durable append-only results, resume, shards (and their plans) and merge
    records.py     one learner's result (what the store keeps and the outputs read)
    course.py      the course's rules that make the gradebook from the results: one submission per
                   learner, expected learners, due dates, anonymised export
    sameness.py    submissions whose evidence comes from one cluster
    outputs.py     CSV gradebook, JSON, JUnit XML, Gradescope results.json, Canvas and Moodle imports
    report.py      the class report: pass rate per step, most common failing check and cause, and more
    batch.py       one grading run from sources to outputs
    commands.py    the `submit` and `grade` commands (click only; the rest is imported when used)
"""

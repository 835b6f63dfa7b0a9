"""Lab pages as notebooks: parsing, the runnable-page rules, and the cells made from a page."""

from __future__ import annotations

import textwrap

import pytest

from labcheck.pages import lint_commands, parse_page, to_notebook

PAGE = '''\
# Lab 99 · A test page

Intro with `code`.

```yaml title="pod.yaml (first version)"
--8<-- "manifests/pod.yaml"
```

```bash
kubectl apply -f pod.yaml
```

```console
$ kubectl exec -it pod -- sh
```

## Step 1 · Do it {#step-do-it}

!!! tip "Check your work"
    ```bash
    labcheck check 99 --step do-it
    ```
'''


@pytest.fixture
def page(tmp_path):
    (tmp_path / "manifests").mkdir()
    (tmp_path / "manifests" / "pod.yaml").write_text("apiVersion: v1\nkind: Pod\n")
    path = tmp_path / "99-test.md"
    path.write_text(PAGE)
    return parse_page(path, tmp_path)


def lint_of(tmp_path, body: str) -> list[str]:
    path = tmp_path / "page.md"
    path.write_text(f"# Lab 99 · x\n\n```bash\n{textwrap.dedent(body).strip()}\n```\n")
    return lint_commands(parse_page(path, tmp_path))


def test_blocks_in_page_order_with_snippets_expanded(page):
    assert page.title == "Lab 99 · A test page"
    assert [(b.lang, b.runs) for b in page.blocks] == [("yaml", False), ("bash", True), ("console", False),
                                                       ("bash", True)]
    assert page.blocks[0].file_name == "pod.yaml"
    assert page.blocks[0].body == "apiVersion: v1\nkind: Pod"
    assert page.blocks[3].body == "labcheck check 99 --step do-it"  # dedented out of the admonition
    assert [b.is_check for b in page.blocks] == [False, False, False, True]


def test_notebook_cells(page):
    cells = to_notebook(page).cells
    code = [c for c in cells if c.cell_type == "code"]
    assert [c.source.splitlines()[0] for c in code] == ["%%writefile pod.yaml", "%%bash", "%%bash"]
    assert code[1].source == "%%bash\nset -e\nkubectl apply -f pod.yaml"
    assert code[2].metadata["tags"] == ["check"]
    prose = "\n".join(c.source for c in cells if c.cell_type == "markdown")
    assert "```console\n$ kubectl exec -it pod -- sh\n```" in prose  # read-only blocks stay text
    assert "**Check your work**" in prose and "{#step-do-it}" not in prose and "!!!" not in prose


def test_a_clean_page_has_no_problems(page):
    assert lint_commands(page) == []  # -it in a console block is fine: it is only shown


@pytest.mark.parametrize("body, problem", [
    ("kubectl create configmap a --from-literal=address=<the address> --dry-run=client -o yaml | kubectl apply -f -",
     "placeholder"),
    ("kubectl create configmap answer --from-literal=a=b", "AlreadyExists"),
    ("kubectl create configmap answer \\\n  --from-literal=a=b", "AlreadyExists"),
    ("kubectl run shell --image=busybox:1.36 -it -- sh", "interactive"),
    ("kubectl get pod web -w", "watch"),
    ("kubectl logs web -c nginx -f", "following logs"),
    ("kubectl create configmap answer --from-literal=id=$SANDBOX --dry-run=client -o yaml | kubectl apply -f -",
     "$SANDBOX is empty in a fresh shell"),
])
def test_what_would_not_run_is_named(tmp_path, body, problem):
    problems = lint_of(tmp_path, body)
    assert len(problems) == 1 and problem in problems[0], problems


@pytest.mark.parametrize("body", [
    "cat <<'EOF' > pod.yaml\nkind: Pod\nEOF",  # a heredoc is not a placeholder
    "NODE=$(kubectl get pod web -o jsonpath='{.spec.nodeName}')\ndocker exec \"$NODE\" crictl pods",
    "kubectl exec web -c sidecar -- curl -s -w '%{http_code}' localhost:80",  # curl's -w, not kubectl's
    "kubectl logs web | awk '{print $NF}'",  # awk's fields are not shell variables
    "for IP in a b; do echo \"$IP\"; done",
    "kubectl create configmap a --from-literal=a=b \\\n  --dry-run=client -o yaml | kubectl apply -f -",
])
def test_what_runs_is_not_flagged(tmp_path, body):
    assert lint_of(tmp_path, body) == []


def test_ambiguous_shell_blocks_are_named(tmp_path):
    path = tmp_path / "page.md"
    path.write_text("# x\n\n```sh\nls\n```\n")
    assert "```sh block" in lint_commands(parse_page(path, tmp_path))[0]


def test_missing_snippet_is_an_error(tmp_path):
    path = tmp_path / "page.md"
    path.write_text('# x\n\n```yaml\n--8<-- "nowhere.yaml"\n```\n')
    with pytest.raises(FileNotFoundError, match="nowhere.yaml"):
        parse_page(path, tmp_path)


@pytest.mark.parametrize("body, problem", [
    ("sleep 2  # kube-router needs a moment", "a comment"),
    ("# wait for it\nsleep 2", "a comment"),
    ("docker images myrepo/*", "unquoted myrepo/*"),
    ("kubectl get pods -o jsonpath={.items[0].metadata.name}", "unquoted"),
    ("curl -s http://localhost/?a=b", "unquoted"),
])
def test_what_zsh_reads_otherwise_is_named(tmp_path, body, problem):
    problems = lint_of(tmp_path, body)
    assert len(problems) == 1 and problem in problems[0], problems


@pytest.mark.parametrize("body", [
    "docker images 'myrepo/*'",
    "[ -n \"$(kubectl get svc lb -o jsonpath='{.status.loadBalancer.ingress[0].ip}')\" ] && echo ok",
    "for i in $(seq 3); do echo \"$i $?\"; done",
    "out=x; echo \"${out%%$'\\n'*}\" \"${#out}\"",
    "cat > try.sh <<'SCRIPT'\n# a comment in the file\nls *.yaml\nSCRIPT",  # a heredoc is the file's text
    "IP=10.0.0.1\nkubectl apply -f - <<EOF\ncommand: [\"wget\", \"http://$IP\"]\nEOF",
    "kubectl logs web | grep 'curl/'",
])
def test_what_zsh_reads_alike_is_not_flagged(tmp_path, body):
    assert lint_of(tmp_path, body) == []


def test_a_marked_block_is_tagged_and_its_recording_goes_under_it(tmp_path):
    from labcheck import page_outputs

    path = tmp_path / "99-x.md"
    path.write_text("# Lab 99 · x\n\n```bash\nkubectl get pods\n```\n<!-- output -->\n\nText.\n\n"
                    "!!! note \"Inside a box\"\n    ```bash\n    ip route\n    ```\n    <!-- output -->\n")
    page = parse_page(path, tmp_path)
    assert [b.shows_output for b in page.blocks] == [True, True] and lint_commands(page) == []
    assert [c.metadata["tags"] for c in to_notebook(page).cells if c.cell_type == "code"] == [["command", "output"]] * 2
    assert "<!-- output -->" not in "".join(c.source for c in to_notebook(page).cells)

    assert len(page_outputs.missing(page, {})) == 2
    page_outputs.save(tmp_path, path, [("kubectl get pods", "NAME READY\nweb  1/1\n"),
                                       ("ip route", "\n".join(f"route {n}" for n in range(40)))], "netlabs")
    recorded = page_outputs.load(tmp_path, path)
    shown, problems = page_outputs.insert(path.read_text(), page, recorded)
    assert problems == []
    assert "```\n\nThe output is similar to:\n\n````text\nNAME READY\nweb  1/1\n````\n" in shown
    assert "    The output is similar to:\n\n    ````text\n    route 0\n" in shown  # indented into the box
    assert "    route 29\n    ... (10 more lines)\n    ````" in shown and "route 30" not in shown


def test_a_changed_command_has_no_recording_until_recorded_again(tmp_path):
    from labcheck import page_outputs

    path = tmp_path / "99-x.md"
    path.write_text("# x\n\n```bash\nkubectl get pods\n```\n<!-- output -->\n")
    page_outputs.save(tmp_path, path, [("kubectl get pods", "web 1/1\n")], "netlabs")
    path.write_text("# x\n\n```bash\nkubectl get pods -o wide\n```\n<!-- output -->\n")
    page = parse_page(path, tmp_path)
    [problem] = page_outputs.missing(page, page_outputs.load(tmp_path, path))
    assert "99-x.md:3: no recorded output" in problem and "LABCHECK_RECORD_OUTPUTS=1" in problem
    shown, problems = page_outputs.insert(path.read_text(), page, page_outputs.load(tmp_path, path))
    assert problems == [problem] and "similar to" not in shown


@pytest.mark.parametrize("text, problem", [
    ("Text.\n<!-- output -->\n", "follows no block"),
    ("```console\n$ ls\n```\n<!-- output -->\n", "under a ```console block"),
])
def test_a_misplaced_output_mark_is_named(tmp_path, text, problem):
    path = tmp_path / "page.md"
    path.write_text(f"# x\n\n{text}")
    [found] = lint_commands(parse_page(path, tmp_path))
    assert problem in found

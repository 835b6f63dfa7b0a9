from labcheck.checks.matching import mismatches


def test_partial_dict_ignores_fields_not_given():
    actual = {"metadata": {"name": "a", "labels": {"x": "1", "y": "2"}}, "spec": {}}
    assert mismatches({"metadata": {"labels": {"x": "1"}}}, actual) == []


def test_wrong_value_reports_path_expected_and_found():
    found = mismatches({"metadata": {"labels": {"tier": "front-end"}}}, {"metadata": {"labels": {"tier": "db"}}})
    assert [str(m) for m in found] == ["metadata.labels.tier: expected 'front-end', found 'db'"]


def test_missing_field_is_reported_as_missing():
    found = mismatches({"status": {"podIP": "10.0.0.1"}}, {"status": {}})
    assert found[0].missing and found[0].path == "status.podIP"


def test_list_items_match_in_any_order_and_by_name():
    actual = [{"name": "b", "ready": True}, {"name": "a", "ready": False}]
    assert mismatches([{"name": "a"}, {"name": "b", "ready": True}], actual) == []
    found = mismatches([{"name": "a", "ready": True}], actual, "status.containerStatuses")
    assert [m.path for m in found] == ["status.containerStatuses[name=a].ready"]


def test_each_expected_item_needs_its_own_actual_item():
    assert mismatches([{"x": 1}, {"x": 1}], [{"x": 1}]) != []


def test_list_item_absent_by_name():
    found = mismatches([{"name": "sidecar"}], [{"name": "nginx"}], "spec.containers")
    assert found[0].path == "spec.containers[name=sidecar]" and found[0].missing


def test_operators():
    assert mismatches({"$regex": "^nginx"}, "nginx:1.27") == []
    assert mismatches({"$regex": "^nginx"}, "httpd") != []
    assert mismatches({"a": {"$exists": True}}, {"a": {}}) == []
    assert mismatches({"a": {"$exists": True}}, {}) != []
    assert mismatches({"a": {"$exists": False}}, {}) == []
    assert mismatches({"$contains": "localhost:80"}, "curl localhost:80") == []  # a string: substring
    assert mismatches({"$contains": "-c"}, ["sh", "-c", "curl localhost:80"]) == []  # a list: membership
    assert mismatches({"$oneOf": ["127.0.0.1", "::1"]}, "::1") == []
    assert mismatches({"$oneOf": ["127.0.0.1", "::1"]}, "10.0.0.1") != []


def test_numbers_and_strings_compare_by_text_but_booleans_do_not():
    assert mismatches({"port": 80}, {"port": "80"}) == []
    assert mismatches({"ready": True}, {"ready": "True"}) != []

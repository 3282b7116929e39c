"""Seed 002's tag import rules, one test each; segment matching against a brute-force reference."""

from hypothesis import given
from hypothesis import strategies as st

from incentives.tags.rules import LibraryGroup, LibraryTag, matches, plan_import


def _wecom(*groups: tuple[str, list[str]]) -> list[dict[str, object]]:
    return [
        {
            "group_id": f"g{i}",
            "group_name": name,
            "tag": [{"id": f"t{i}{j}", "name": tag} for j, tag in enumerate(tags)],
        }
        for i, (name, tags) in enumerate(groups)
    ]


def test_an_existing_group_receives_the_new_tags() -> None:
    plan = plan_import(
        [LibraryGroup("G1", "会员等级")],
        [LibraryTag("T1", "G1", "金卡")],
        _wecom(("会员等级", ["金卡", "钻石卡"])),
    )
    assert plan.new_groups == () and plan.new_tags == (("会员等级", "钻石卡"),)


def test_tags_with_the_same_name_in_one_group_collapse_into_one() -> None:
    plan = plan_import([], [], _wecom(("兴趣", ["户外", "户外", "美妆"])))
    assert plan.new_tags == (("兴趣", "户外"), ("兴趣", "美妆"))


def test_a_name_shared_by_imported_groups_becomes_one_tag_in_one_of_them() -> None:
    plan = plan_import([], [], _wecom(("兴趣", ["户外"]), ("偏好", ["户外", "夜跑"])))
    assert [name for _, name in plan.new_tags].count("户外") == 1
    assert ("兴趣", "户外") in plan.new_tags and ("偏好", "夜跑") in plan.new_tags


def test_empty_groups_are_not_imported() -> None:
    plan = plan_import([], [], _wecom(("空组", []), ("兴趣", ["户外"])))
    assert plan.new_groups == ("兴趣",)
    assert any("empty" in reason for reason in plan.skipped)


def test_a_group_whose_every_tag_exists_already_is_not_created() -> None:
    plan = plan_import(
        [LibraryGroup("G1", "兴趣")], [LibraryTag("T1", "G1", "户外")], _wecom(("新组", ["户外"]))
    )
    assert plan.new_groups == () and plan.new_tags == ()


def test_relations_are_not_part_of_an_import() -> None:
    groups = _wecom(("兴趣", ["户外"]))
    groups[0]["tag"][0]["customers"] = ["wm1", "wm2"]  # type: ignore[index]
    plan = plan_import([], [], groups)
    assert plan.new_tags == (("兴趣", "户外"),)  # only names are imported; nothing else is carried


GROUPS = {"g1": ["a", "b", "c"], "g2": ["d", "e"], "g3": ["f"]}
ALL_TAGS = [tag for tags in GROUPS.values() for tag in tags]


def _brute_force(owned: set[str], selection: dict[str, set[str]]) -> bool:
    """Every group with a choice must have at least one of its chosen tags on the customer."""
    verdict = True
    for chosen in selection.values():
        if chosen:
            verdict = verdict and any(tag in owned for tag in chosen)
    return verdict


@given(
    st.sets(st.sampled_from(ALL_TAGS)),
    st.fixed_dictionaries({group: st.sets(st.sampled_from(tags)) for group, tags in GROUPS.items()}),
)
def test_a_segment_is_or_within_a_group_and_across_groups_and(
    owned: set[str], selection: dict[str, set[str]]
) -> None:
    assert matches(owned, selection) == _brute_force(owned, selection)


def test_the_seed_example_of_segment_filtering() -> None:
    selection = {"等级": {"金卡", "钻石卡"}, "兴趣": {"户外"}}
    assert matches({"金卡", "户外"}, selection)
    assert matches({"钻石卡", "户外", "美妆"}, selection)
    assert not matches({"金卡", "美妆"}, selection)
    assert not matches({"户外"}, selection)

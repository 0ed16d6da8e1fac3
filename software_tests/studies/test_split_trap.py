"""The split-trap study (flarekit.studies.split_trap): the three protocols deal
the pool as promised, only the chronological one keeps regions apart, seeds
reproduce deals, and a smoke run writes its report."""

import numpy as np
import pandas as pd
import pytest

from flarekit.studies import split_trap


@pytest.fixture(scope="module")
def smoke_pool(smoke_builder):
    from flarekit.data import tasks

    return split_trap.load_pool(smoke_builder, tasks.binary("M1.0"))


def test_pool_holds_every_built_split(smoke_pool, smoke_builder):
    splits = smoke_builder.info.splits
    assert smoke_pool.sizes == tuple(
        splits[name].num_examples for name in split_trap.PARTS
    )
    assert smoke_pool.images.shape[0] == len(smoke_pool)
    assert set(np.unique(smoke_pool.labels)) <= {0, 1}
    assert np.all(
        (smoke_pool.true_probability >= 0) & (smoke_pool.true_probability <= 1)
    )


@pytest.mark.parametrize("protocol", list(split_trap.PROTOCOLS))
def test_each_protocol_deals_the_pool_into_disjoint_parts_of_the_built_sizes(
    smoke_pool, protocol
):
    assignment = split_trap.assign(protocol, smoke_pool, seed=3)
    # One part per example: the parts are disjoint and cover the pool.
    assert assignment.shape == (len(smoke_pool),)
    assert set(np.unique(assignment)) == {0, 1, 2}
    assert tuple(np.bincount(assignment, minlength=3)) == smoke_pool.sizes


def test_only_the_chronological_split_keeps_test_regions_out_of_training(smoke_pool):
    leaks = {
        protocol: split_trap.shared_regions(
            smoke_pool.regions, split_trap.assign(protocol, smoke_pool, seed=0)
        )
        for protocol in split_trap.PROTOCOLS
    }
    assert leaks["chronological"]["shared_test_regions"] == 0
    assert leaks["chronological"]["shared_test_examples"] == 0.0
    random = leaks["random"]
    assert random["shared_test_regions"] >= random["test_regions"] / 2
    assert random["shared_test_examples"] > 0.5


def test_month_interleaved_parts_are_unions_of_time_blocks():
    # 120 days, one example a day, 30-day blocks, sizes of whole blocks: every
    # block lands whole in one part, and each part gets its size.
    days = np.arange(120) * 86_400
    parts = split_trap.month_interleaved_assignment(days, (60, 30, 30), seed=0)
    assert np.bincount(parts).tolist() == [60, 30, 30]
    for block in np.split(parts, 4):
        assert len(set(block.tolist())) == 1


def test_same_seed_same_deal_other_seed_other_deal(smoke_pool):
    for protocol in ("random", "month_interleaved"):
        first = split_trap.assign(protocol, smoke_pool, seed=5)
        again = split_trap.assign(protocol, smoke_pool, seed=5)
        other = split_trap.assign(protocol, smoke_pool, seed=6)
        np.testing.assert_array_equal(first, again)
        assert not np.array_equal(first, other)
    chronological = split_trap.assign("chronological", smoke_pool, seed=5)
    np.testing.assert_array_equal(chronological, smoke_pool.built_split)


def test_shared_regions_by_hand():
    result = split_trap.shared_regions(
        ["a", "a", "b", "b", "c", "d"], [0, 2, 2, 2, 1, 2]
    )
    assert result == {
        "shared_test_regions": 1,
        "test_regions": 3,
        "shared_test_examples": 0.25,
    }


def test_sizes_that_do_not_add_up_are_refused():
    with pytest.raises(ValueError, match="adding up"):
        split_trap.random_assignment(10, (6, 2, 1), seed=0)
    with pytest.raises(ValueError, match="protocol"):
        split_trap.assign("kfold", None, seed=0)


def test_smoke_run_writes_its_table(tfds_dir, tmp_path):
    output = split_trap.run_split_trap(
        seeds=(0,), smoke=True, output_dir=tmp_path / "trap", epochs=1
    )
    table = pd.read_csv(output / "split_trap.csv")
    assert sorted(table["protocol"]) == sorted(split_trap.PROTOCOLS)
    assert (table["seed"] == 0).all()
    chronological = table[table["protocol"] == "chronological"].iloc[0]
    assert chronological["shared_test_regions"] == 0
    assert 0 < chronological["ceiling_tss"] <= 1
    report = (output / "split_trap.md").read_text()
    for description in split_trap.PROTOCOLS.values():
        assert description in report
    assert "mean ± sd" in report and "Cost:" in report
    assert (output / "figures" / "split_trap.png").stat().st_size > 0

"""The daily schedule and the missing-days sensor: what they request, and when."""

import datetime as dt

import dagster as dg
import pytest

from pipelines.sensors import build_missing_days_sensor, missing_ranges

DAYS = [f"2024-01-{d:02d}" for d in range(1, 11)]


def test_missing_ranges_are_the_contiguous_gaps_of_any_asset():
    a = set(DAYS) - {"2024-01-03", "2024-01-04"}
    b = set(DAYS) - {"2024-01-04", "2024-01-09", "2024-01-10"}
    assert missing_ranges(DAYS, [a, b]) == [
        ("2024-01-03", "2024-01-04"),
        ("2024-01-09", "2024-01-10"),
    ]
    assert missing_ranges(DAYS, [set(DAYS)]) == []
    assert missing_ranges(DAYS, [set()]) == [("2024-01-01", "2024-01-10")]


@pytest.fixture
def toy():
    partitions = dg.DailyPartitionsDefinition(start_date="2024-01-01", end_date="2024-01-11")

    @dg.asset(key=["raw", "a"], partitions_def=partitions)
    def a() -> None:
        pass

    @dg.asset(key=["raw", "b"], partitions_def=partitions)
    def b() -> None:
        pass

    job = dg.define_asset_job("daily_refresh", partitions_def=partitions)
    sensor = build_missing_days_sensor(job, partitions, [a.key, b.key])
    defs = dg.Definitions(assets=[a, b], jobs=[job], sensors=[sensor])
    instance = dg.DagsterInstance.ephemeral()
    for day in set(DAYS) - {"2024-01-03", "2024-01-04"}:
        instance.report_runless_asset_event(dg.AssetMaterialization(a.key, partition=day))
    for day in set(DAYS) - {"2024-01-04", "2024-01-09", "2024-01-10"}:
        instance.report_runless_asset_event(dg.AssetMaterialization(b.key, partition=day))
    return defs, sensor, instance


def test_sensor_requests_one_range_run_per_gap(toy):
    defs, sensor, instance = toy
    context = dg.build_sensor_context(instance=instance, definitions=defs)
    requests = sensor(context)
    assert [
        (r.tags["dagster/asset_partition_range_start"], r.tags["dagster/asset_partition_range_end"])
        for r in requests
    ] == [("2024-01-03", "2024-01-04"), ("2024-01-09", "2024-01-10")]
    assert len({r.run_key for r in requests}) == 2


def test_sensor_skips_when_nothing_is_missing(toy):
    defs, sensor, instance = toy
    for key in (dg.AssetKey(["raw", "a"]), dg.AssetKey(["raw", "b"])):
        for day in DAYS:
            instance.report_runless_asset_event(dg.AssetMaterialization(key, partition=day))
    result = sensor(dg.build_sensor_context(instance=instance, definitions=defs))
    assert (
        isinstance(result, dg.SkipReason)
        and "no missing day among 10 settled days" in result.skip_message
    )


def test_the_code_location_has_the_sensor_off_until_switched_on():
    from pipelines.definitions import defs

    sensor = defs.resolve_sensor_def("missing_days_sensor")
    assert sensor.default_status == dg.DefaultSensorStatus.STOPPED
    assert sensor.job_name == "daily_refresh"


def test_the_schedule_runs_yesterday_after_the_settle_margin():
    from pipelines.definitions import defs
    from pipelines.schedules import SETTLE_AFTER

    schedule = defs.resolve_schedule_def("daily_refresh_schedule")
    assert (
        schedule.cron_schedule
        == f"{SETTLE_AFTER.seconds % 3600 // 60} {SETTLE_AFTER.seconds // 3600} * * *"
    )
    assert schedule.execution_timezone in (None, "UTC")
    context = dg.build_schedule_context(
        scheduled_execution_time=dt.datetime(2023, 10, 25, 1, 30, tzinfo=dt.UTC)
    )
    [request] = schedule.evaluate_tick(context).run_requests
    assert request.partition_key == "2023-10-24"


def test_days_a_running_run_will_write_are_not_requested_again(toy):
    from dagster._core.storage.dagster_run import DagsterRun

    defs, sensor, instance = toy
    # The schedule's run of one day, and a backfill over the other gap, both still going.
    instance.add_run(
        DagsterRun(
            job_name="daily_refresh",
            run_id="schedule-run",
            status=dg.DagsterRunStatus.STARTED,
            tags={"dagster/partition": "2024-01-03"},
        )
    )
    instance.add_run(
        DagsterRun(
            job_name="__ASSET_JOB",
            run_id="cli-backfill",
            status=dg.DagsterRunStatus.STARTING,
            tags={
                "dagster/asset_partition_range_start": "2024-01-08",
                "dagster/asset_partition_range_end": "2024-01-10",
            },
        )
    )
    requests = sensor(dg.build_sensor_context(instance=instance, definitions=defs))
    assert [
        (r.tags["dagster/asset_partition_range_start"], r.tags["dagster/asset_partition_range_end"])
        for r in requests
    ] == [("2024-01-04", "2024-01-04")]

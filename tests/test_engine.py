import operator

import pytest

from dolphin_ae.engine import check_engine, engine_client
from dolphin_ae.exceptions import ParameterError


def test_local_engine_yields_no_client():
    with engine_client("local") as client:
        assert client is None


@pytest.mark.parametrize("kwargs, name", [
    (dict(engine="spark"), "engine"),
    (dict(engine="dask", workers=0), "workers"),
    (dict(engine="dask", workers=True), "workers"),
    (dict(engine="dask", scheduler=""), "scheduler"),
    (dict(engine="local", scheduler="tcp://h:8786"), "scheduler"),
    (dict(engine="dask", workers=2, scheduler="tcp://h:8786"), "workers"),
])
def test_bad_engine_settings_name_the_parameter(kwargs, name):
    with pytest.raises(ParameterError, match=name):
        check_engine(**kwargs)


def test_dask_engine_starts_the_workers_asked_for_and_runs_tasks():
    assert check_engine("dask", 3) == 3
    with engine_client("dask", workers=2) as client:
        assert len(client.scheduler_info()["workers"]) == 2
        assert client.gather(client.map(operator.mul, [1, 2, 3], [4, 5, 6])) == [4, 10, 18]

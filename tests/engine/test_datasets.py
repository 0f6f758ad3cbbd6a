import numpy as np
import pytest

from gluon_lrfinder.demo import NETS, TASKS, build_net, load_task


@pytest.mark.parametrize("name", TASKS)
def test_tasks_are_standardized_and_split(name):
    task = load_task(name)
    X = np.stack([x for x, _ in task.train])
    assert abs(float(X.mean())) < 0.05 and 0.8 < float(X.std()) < 1.2
    assert len(task.valid) > 0 and len(task.train) > 2 * len(task.valid)
    labels = np.array([y for _, y in task.train])
    if task.kind == "classification":
        assert set(np.unique(labels)) == set(range(task.num_outputs))
    else:
        assert task.num_outputs == 1 and labels.shape[1:] == (1,)


def test_split_is_seeded():
    a, b, c = load_task("wine", seed=1), load_task("wine", seed=1), load_task("wine", seed=2)
    assert np.array_equal(a.valid[:][0], b.valid[:][0])
    assert not np.array_equal(a.valid[:][0], c.valid[:][0])


@pytest.mark.parametrize("name", NETS)
def test_nets_build(name):
    import mxnet as mx

    net = build_net(name, 3)
    net.initialize()
    shape = (2, 1, 8, 8) if name == "cnn" else (2, 5)
    assert net(mx.nd.zeros(shape)).shape == (2, 3)


def test_bad_names():
    with pytest.raises(ValueError, match="name must be one of .*got 'mnist'"):
        load_task("mnist")
    with pytest.raises(ValueError, match="valid_fraction must be in \\(0, 1\\), got 1.5"):
        load_task("iris", valid_fraction=1.5)
    with pytest.raises(ValueError, match="num_outputs must be an integer >= 1, got 0"):
        build_net("mlp", 0)

import pytest

from fcplan.models import registry
from fcplan.models.baselines import SeasonalNaive


def test_get_model_builds_an_unfitted_model_with_params():
    model = registry.get_model("moving_average", window=7)
    assert model.params == {"window": 7, "n_jobs": 1, "max_length": None}
    assert not getattr(model, "fitted_", False)


def test_when_a_name_is_unknown_then_the_error_lists_the_known_ones():
    with pytest.raises(KeyError, match="seasonal_naive"):
        registry.get_model("prophet")


def test_when_an_optional_model_fails_to_import_then_it_is_skipped(monkeypatch):
    monkeypatch.setattr(registry, "MODELS", dict(registry.MODELS))
    registry._optional("ghost", "models.does_not_exist", "Ghost")
    assert "ghost" not in registry.MODELS
    registry._optional("naive_again", "fcplan.models.baselines", "SeasonalNaive")
    assert registry.MODELS["naive_again"] is SeasonalNaive


def test_when_a_hyperparameter_is_misspelt_then_a_warning_names_the_known_ones():
    with pytest.warns(registry.UnknownHyperparameterWarning, match=r"\['maxiter'\].*max_iter"):
        model = registry.get_model("ets", maxiter=5)
    assert "maxiter" not in model.params
    assert model.params["max_iter"] == 100


def test_when_every_hyperparameter_is_known_then_no_warning_is_given():
    import warnings

    with warnings.catch_warnings():
        warnings.simplefilter("error")
        assert registry.get_model("sarimax", max_iter=5).params["max_iter"] == 5

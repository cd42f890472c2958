import pytest

from fcplan.models import registry
from fcplan.models.baselines import SeasonalNaive


def test_get_model_builds_an_unfitted_model_with_params():
    model = registry.get_model("moving_average", window=7)
    assert model.params == {"window": 7}
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

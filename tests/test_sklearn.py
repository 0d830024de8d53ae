"""NNFClassifier: scikit-learn's own estimator checks, a Pipeline and a GridSearchCV."""

import numpy as np
import pytest
from sklearn.datasets import load_digits
from sklearn.model_selection import GridSearchCV, train_test_split
from sklearn.pipeline import make_pipeline
from sklearn.preprocessing import StandardScaler
from sklearn.utils.estimator_checks import parametrize_with_checks

from nnfoundations.sklearn import NNFClassifier


# Two checks skip here, neither for a reason of ours: check_array_api_input needs
# SCIPY_ARRAY_API set, check_classifier_data_not_an_array needs pandas.
@parametrize_with_checks([NNFClassifier(hidden_sizes=(32,), epochs=30, random_state=0)])
def test_scikit_learns_estimator_checks(estimator, check):
    check(estimator)


@pytest.fixture(scope="module")
def digits():
    X, y = load_digits(return_X_y=True)
    return train_test_split(X, y, test_size=0.3, random_state=0, stratify=y)


def test_in_a_pipeline_on_digits(digits):
    X_train, X_test, y_train, y_test = digits
    clf = make_pipeline(StandardScaler(), NNFClassifier(hidden_sizes=(64,), epochs=30,
                                                        patience=5, random_state=0))
    clf.fit(X_train, y_train)
    net = clf[-1]
    assert clf.score(X_test, y_test) > 0.95
    assert list(net.classes_) == list(range(10)) and net.n_features_in_ == 64
    assert net.history_.settings["n_val"] == round(0.15 * len(y_train))  # held out to stop
    assert np.allclose(clf.predict_proba(X_test).sum(axis=1), 1)


def test_a_grid_search_over_hidden_sizes_and_dropout(digits):
    X_train, X_test, y_train, y_test = digits
    search = GridSearchCV(make_pipeline(StandardScaler(),
                                        NNFClassifier(epochs=15, random_state=0)),
                          {"nnfclassifier__hidden_sizes": [(16,), (64,)],
                           "nnfclassifier__dropout_rate": [0.0, 0.3]}, cv=2)
    search.fit(X_train, y_train)
    assert search.best_params_["nnfclassifier__hidden_sizes"] == (64,)
    assert search.score(X_test, y_test) > 0.9


def test_labels_of_any_kind_and_parameters_checked_in_fit():
    X = np.random.default_rng(0).normal(size=(60, 3))
    y = np.where(X[:, 0] > 0, "yes", "no")
    clf = NNFClassifier(hidden_sizes=(8,), epochs=100, lr=0.01, random_state=1).fit(X, y)
    assert set(clf.predict(X)) <= {"yes", "no"} and clf.score(X, y) > 0.8
    with pytest.raises(ValueError, match="dropout_rate must satisfy 0 <= value < 1, got 1.5"):
        NNFClassifier(dropout_rate=1.5).fit(X, y)
    with pytest.raises(ValueError, match="epochs must be a positive int"):
        NNFClassifier(epochs=0).fit(X, y)

import numpy as np
import pytest
from affine import Affine

from roadseg.raster.gsd import ground_sample_distance
from roadseg.raster.probability import PROB_NODATA, decode_probability, encode_probability


def test_probability_round_trip_and_nodata():
    prob = np.array([[0.0, 0.5, 1.0, np.nan]], dtype=np.float32)
    stored = encode_probability(prob)
    assert stored.tolist() == [[0, 127, 254, PROB_NODATA]]
    back = decode_probability(stored)
    assert np.isnan(back[0, 3])
    np.testing.assert_allclose(back[0, :3], [0.0, 0.5, 1.0], atol=1 / 254)


def test_encode_respects_valid_mask():
    stored = encode_probability(np.ones((2, 2)), valid=np.array([[1, 0], [1, 1]], bool))
    assert stored[0, 1] == PROB_NODATA and stored[0, 0] == 254


def test_gsd_projected_and_geographic():
    assert ground_sample_distance("EPSG:32616", Affine(0.5, 0, 5e5, 0, -0.5, 4e6), 10, 10) == 0.5
    # 0.3 m at Shanghai's latitude in degrees
    deg = 0.3 / 111_320
    gsd = ground_sample_distance("EPSG:4326", Affine(deg, 0, 121.4, 0, -deg, 31.2), 1300, 1300)
    assert gsd == pytest.approx(0.3 * (1 + np.cos(np.radians(31.2))) / 2, rel=0.02)
    assert ground_sample_distance(None, Affine.identity(), 1, 1) is None

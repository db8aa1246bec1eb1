"""The shop graph: forward 715 and the six gradients, by hand and by autograd."""
import pytest

from chainrule.gallery import shop

EXPECTED = {"price": 715.0, "apple_price": 200.0, "orange_price": 450.0, "all_price": 650.0,
            "d_tax": 650.0, "d_all_price": 1.1, "d_apple": 2.2, "d_apple_num": 110.0,
            "d_orange": 3.3, "d_orange_num": 165.0}


def test_autograd_numbers():
    result = shop.run()
    for key, value in EXPECTED.items():
        assert result[key] == pytest.approx(value, rel=1e-12), key


def test_hand_made_layers_agree_with_autograd():
    result = shop.run()
    for key, value in EXPECTED.items():
        assert result["by_hand"][key] == pytest.approx(value, rel=1e-12), key
        assert result["by_hand"][key] == pytest.approx(result[key], rel=1e-12), key


def test_walkthrough_prints_the_numbers(capsys):
    shop.main()
    out = capsys.readouterr().out
    assert "715" in out and "d_orange_num" in out and "165" in out

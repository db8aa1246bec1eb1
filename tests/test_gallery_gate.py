"""The multiply gate: x=2, y=3, upstream 5 gives dx=15, dy=10."""
from chainrule.gallery import gate


def test_gate_numbers():
    result = gate.run()
    assert (result["z"], result["dx"], result["dy"]) == (6.0, 15.0, 10.0)


def test_gate_walkthrough(capsys):
    gate.main()
    assert "dL/dx = 5 * 3 = 15" in capsys.readouterr().out

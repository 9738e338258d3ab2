"""twin.extract.drainage: a Twin state becomes a SWMM 5 .inp that EPA SWMM (swmm-toolkit via
pyswmm) runs — on a hand-built network with hand-computable parameters, and on the sample
community's three states under Chicago design storms."""
import copy
from pathlib import Path
from types import SimpleNamespace

import numpy as np
import pytest
from pyswmm import Links, Nodes, Simulation, Subcatchments, SystemStats
from shapely.geometry import box

from sim.stormwater.rainfall import chicago_storm
from twin.extract.drainage import DrainageError, build_drainage_model, drainage_inp
from twin.layers import Layers, LIDFacility, Pipe, StormNode, Surface
from twin.project import load_project, load_state

SAMPLE = Path(__file__).resolve().parents[2] / "ifc_models" / "sample_community"


def run_swmm(text: str, path: Path, outfalls=(), reuse=None) -> dict:
    """Run an .inp in EPA SWMM 5.2; SWMM's own continuity figures and what reached the outfalls."""
    path.write_text(text)
    with Simulation(str(path)) as sim:
        nodes = Nodes(sim)
        site = [nodes[o] for o in outfalls]
        peak = 0.0
        for _ in sim:
            peak = max(peak, sum(o.total_inflow for o in site))
        stats = SystemStats(sim)
        result = {"runoff": stats.runoff_stats, "routing": stats.routing_stats, "peak_m3s": peak,
                  "outfall_m3": sum(o.cumulative_inflow for o in site),
                  "reuse_m3": nodes[reuse].cumulative_inflow if reuse else 0.0,
                  "area_ha": sum(s.area for s in Subcatchments(sim)),
                  "node_ids": {n.nodeid for n in Nodes(sim)}, "link_ids": {link.linkid for link in Links(sim)}}
    return result


# ---------------------------------------------------------------------------- a hand-built twin

def small_twin(**surface_overrides):
    """Two 40 m × 10 m surfaces (a road and a lawn), two inlets, one outfall, two pipes."""
    road = Surface(global_id="2Road$0000000000000001", surface_type="road", footprint=box(0, 0, 40, 10), area_m2=400.0,
                   imperviousness=1.0, slope=0.015, drains_to=None)
    lawn = Surface(global_id="3Lawn_000000000000000A", surface_type="green", footprint=box(0, 20, 40, 30), area_m2=400.0,
                   imperviousness=0.0, slope=0.02, drains_to=None)
    for key, value in surface_overrides.items():
        setattr(road, key, value)
    m1 = StormNode(global_id="0MH1", name="MH1", position=(35.0, 5.0), invert_m=-1.0, rim_m=0.5, inlet=True)
    m2 = StormNode(global_id="0MH2", name="MH2", position=(35.0, 25.0), invert_m=-0.9, rim_m=0.5, inlet=True)
    out = StormNode(global_id="0OUT", name="Out", position=(60.0, 5.0), invert_m=-1.2, rim_m=0.5, boundary="FREE")
    pipes = [Pipe(global_id="1P2to1", from_node="0MH2", to_node="0MH1", diameter_m=0.3, length_m=20.0,
                  upstream_invert_m=-0.9, downstream_invert_m=-0.96, roughness_n=0.013, system="STORMWATER",
                  renewed=False, start=(35, 25, -0.75), end=(35, 5, -0.81)),
             Pipe(global_id="1P1toO", from_node="0MH1", to_node="0OUT", diameter_m=0.4, length_m=25.0,
                  upstream_invert_m=-1.0, downstream_invert_m=-1.1, roughness_n=0.013, system="STORMWATER",
                  renewed=False, start=(35, 5, -0.8), end=(60, 5, -0.9))]
    layers = Layers(surfaces=[road, lawn], manholes=[m1, m2], outfalls=[out], pipes=pipes)
    return SimpleNamespace(name="small", layers=layers)


def _section(text: str, name: str) -> list[str]:
    lines = text.split(f"[{name}]\n", 1)[1].split("\n\n", 1)[0].splitlines()
    return [ln for ln in lines if ln.strip()]


def test_small_network_parameters_follow_the_documented_rules():
    model = build_drainage_model(small_twin(), chicago_storm(3))
    subs = {ln.split()[0]: ln.split() for ln in _section(model.text, "SUBCATCHMENTS")}
    road = subs["2Road$0000000000000001"]
    # Outlet: the nearest inlet to the surface; area in ha; width = area / (short side / 2) = 400 / 5.
    assert road[2] == "0MH1" and subs["3Lawn_000000000000000A"][2] == "0MH2"
    assert float(road[3]) == pytest.approx(0.04) and float(road[4]) == pytest.approx(100.0)
    assert float(road[5]) == pytest.approx(80.0) and float(road[6]) == pytest.approx(1.5)
    subareas = {ln.split()[0]: ln.split() for ln in _section(model.text, "SUBAREAS")}
    assert subareas["2Road$0000000000000001"][1:5] == ["0.011", "0.15", "1.91", "2.54"]  # asphalt n, storage mm
    junctions = {ln.split()[0]: ln.split() for ln in _section(model.text, "JUNCTIONS")}
    assert float(junctions["0MH1"][2]) == pytest.approx(1.5)  # rim − invert
    conduits = {ln.split()[0]: ln.split() for ln in _section(model.text, "CONDUITS")}
    assert conduits["1P2to1"][5:7] == ["0.0000", "0.0400"]  # pipe inverts − node inverts


def test_small_network_runs_in_swmm_and_conserves_water(tmp_path):
    storm = chicago_storm(3)
    result = run_swmm(drainage_inp(small_twin(), storm), tmp_path / "small.inp", outfalls=["0OUT"])
    runoff, routing = result["runoff"], result["routing"]
    assert runoff["rainfall"] == pytest.approx(storm.total_mm, rel=1e-4)
    # SWMM's own continuity errors (percent): below 1 % is the usual acceptance for a model.
    assert abs(runoff["routing_error"]) < 1.0 and abs(routing["routing_error"]) < 1.0
    # Road (impervious): rain minus at most its 1.91 mm depression storage on 75 % of it.
    # Lawn: Horton capacity never falls below 6.35 mm/h, so it infiltrates at least
    # Σ min(i, 6.35 mm/h)·Δt and keeps 3.81 mm in depressions: that bounds its runoff above.
    road_min_m3 = (storm.total_mm - 0.75 * 1.91) / 1000 * 400
    lawn_max_mm = storm.total_mm - 3.81 - (np.minimum(storm.intensity_mm_h, 6.35) * storm.interval_s / 3600).sum()
    total_runoff_m3 = runoff["runoff"] / 1000 * 800
    assert road_min_m3 * 0.999 < total_runoff_m3 < storm.total_mm / 1000 * 400 + lawn_max_mm / 1000 * 400
    assert result["outfall_m3"] == pytest.approx(total_runoff_m3, rel=0.02)  # no flooding in 0.3–0.4 m pipes at this size


def test_bad_twin_input_names_the_element():
    with pytest.raises(DrainageError, match=r"surface 2Road\$0000000000000001: CT_Surface.DrainsTo 'nowhere'"):
        build_drainage_model(small_twin(drains_to="nowhere"), chicago_storm(3))
    twin = small_twin()
    twin.layers.pipes[0].to_node = None
    with pytest.raises(DrainageError, match="pipe 1P2to1: to_node is None"):
        build_drainage_model(twin, chicago_storm(3))
    twin = small_twin()
    twin.layers.surfaces[0].global_id = "has space"
    with pytest.raises(DrainageError, match="not usable as a SWMM ID"):
        build_drainage_model(twin, chicago_storm(3))
    with pytest.raises(DrainageError, match="routing"):
        build_drainage_model(small_twin(), chicago_storm(3), routing="MAGIC")


def test_a_unit_serving_upstream_area_gets_its_own_subcatchment(tmp_path):
    twin = small_twin()
    garden = LIDFacility(global_id="1Garden", name="rain garden", lid_type="rain_garden", footprint=box(0, 20, 5, 30),
                         area_m2=50.0, surface_depth_m=0.2, soil_thickness_m=0.6, storage_depth_m=0.3, volume_m3=None,
                         treated_area_m2=250.0, underdrain=True, reuse_demand_m3_per_day=0.0)
    twin.layers.lid_facilities = [garden]
    model = build_drainage_model(twin, chicago_storm(3))
    # 50 m² carved from the lawn, 200 m² of road routed through it; total area unchanged.
    assert model.subcatchment_area_m2["1Garden"] == pytest.approx(250.0)
    assert model.subcatchment_area_m2["3Lawn_000000000000000A"] == pytest.approx(350.0)
    assert model.subcatchment_area_m2["2Road$0000000000000001"] == pytest.approx(200.0)
    assert sum(model.subcatchment_area_m2.values()) == pytest.approx(800.0)
    usage = _section(model.text, "LID_USAGE")[0].split()
    assert usage[:3] == ["1Garden", "1Garden", "1"] and float(usage[3]) == pytest.approx(50.0) and usage[6] == "100"
    result = run_swmm(model.text, tmp_path / "garden.inp", outfalls=["0OUT"])
    assert abs(result["runoff"]["routing_error"]) < 1.0 and abs(result["routing"]["routing_error"]) < 1.0
    plain = run_swmm(drainage_inp(small_twin(), chicago_storm(3)), tmp_path / "plain.inp", outfalls=["0OUT"])
    # The garden holds 200 mm ponding + soil + 300 mm × 0.4 gravel: far more than 200 m² × 63 mm.
    assert result["outfall_m3"] < plain["outfall_m3"] - 0.5 * 200 * chicago_storm(3).total_mm / 1000


# ---------------------------------------------------------------------------- the sample community

@pytest.fixture(scope="module")
def twins():
    project = load_project(SAMPLE)
    return {name: load_state(project, name) for name in ("baseline", "proposal_a", "proposal_b")}


@pytest.fixture(scope="module")
def sample_runs(twins, tmp_path_factory):
    folder = tmp_path_factory.mktemp("swmm")
    runs = {}
    for name in ("baseline", "proposal_a"):
        for period in (1, 3):
            model = build_drainage_model(twins[name], chicago_storm(period))
            runs[name, period] = (model, run_swmm(model.text, folder / f"{name}_{period}.inp", outfalls=model.outfalls,
                                                  reuse=model.reuse_outfall))
    # Proposal A's surfaces and LIDs on the baseline's pipes: the sponge measures alone.
    layers = copy.copy(twins["proposal_a"].layers)
    layers.pipes = twins["baseline"].layers.pipes
    model = build_drainage_model(SimpleNamespace(name="a_on_baseline_pipes", layers=layers), chicago_storm(3))
    runs["a_on_baseline_pipes", 3] = (model, run_swmm(model.text, folder / "a_pipes_3.inp", outfalls=model.outfalls,
                                                      reuse=model.reuse_outfall))
    return runs


def test_sample_subcatchments_cover_the_site(twins):
    for name in ("baseline", "proposal_a", "proposal_b"):
        layers = twins[name].layers
        model = build_drainage_model(twins[name], chicago_storm(3))
        surfaces_m2 = sum(s.area_m2 for s in layers.surfaces)
        # LID carve-outs move area between subcatchments, never create or lose it.
        assert sum(model.subcatchment_area_m2.values()) == pytest.approx(surfaces_m2, rel=1e-9)
        assert surfaces_m2 == pytest.approx(layers.site_boundary.area, rel=1e-3)  # the surfaces tile the site


def test_sample_runs_in_swmm_with_small_continuity_errors(sample_runs, twins):
    for (name, period), (model, result) in sample_runs.items():
        assert abs(result["runoff"]["routing_error"]) < 1.0, (name, period)
        assert abs(result["routing"]["routing_error"]) < 1.0, (name, period)
        assert result["runoff"]["rainfall"] == pytest.approx(chicago_storm(period).total_mm, rel=1e-4)
        # SWMM read every subcatchment, and names are the IFC GlobalIds ('$' included).
        assert result["area_ha"] * 1e4 == pytest.approx(sum(model.subcatchment_area_m2.values()), rel=1e-5)
        layers = twins[name].layers if name in twins else twins["baseline"].layers
        assert {p.global_id for p in layers.pipes} == result["link_ids"]
        assert {n.global_id for n in layers.manholes + layers.outfalls} <= result["node_ids"]


def test_proposal_a_sponge_facilities_cut_runoff_and_flooding(sample_runs):
    base, a = sample_runs["baseline", 3][1], sample_runs["proposal_a", 3][1]
    # Runoff leaving the surfaces (overland + LID underdrains, reuse withdrawal excepted):
    # 21 LID units on ~2.2 ha and a 300 m³ tank must hold several mm over the 20 ha site.
    def leaving_mm(r):
        return r["runoff"]["runoff"] + r["runoff"]["drains"] - r["reuse_m3"] / 199800 * 1000
    assert leaving_mm(a) < leaving_mm(base) - 3.0
    assert a["routing"]["flooding"] < 0.8 * base["routing"]["flooding"]
    # 1-year storm: the outfall peak drops too.
    assert sample_runs["proposal_a", 1][1]["peak_m3s"] < 0.95 * sample_runs["baseline", 1][1]["peak_m3s"]
    # 3-year storm: proposal A also enlarges the last five trunk pipes 0.8 → 1.0 m, so water that
    # floods manholes in the baseline reaches the outfall and A's outfall peak is ~2 % higher.
    # Its sponge measures alone (A's surfaces and LIDs on the baseline's pipes) cut the peak by ~5 %.
    alone = sample_runs["a_on_baseline_pipes", 3][1]
    assert alone["peak_m3s"] < 0.98 * base["peak_m3s"]
    assert alone["routing"]["flooding"] < base["routing"]["flooding"]


def test_storage_tank_reuse_leaves_at_the_demand_rate(sample_runs, twins):
    model, result = sample_runs["proposal_a", 3]
    tank = next(f for f in twins["proposal_a"].layers.lid_facilities if f.lid_type == "storage_tank")
    assert model.subcatchment_area_m2[model.lid_units[tank.global_id]] == pytest.approx(tank.treated_area_m2, rel=1e-9)
    # 20 m³/day drawn while the tank holds water: at most 8 h (2 h storm + 6 h) × 20/24 m³/h,
    # and roofs fill it within the storm's first hour, so at least 6 h of it.
    hours = 8.0
    assert 6.0 * tank.reuse_demand_m3_per_day / 24 < result["reuse_m3"] <= hours * tank.reuse_demand_m3_per_day / 24 + 1e-6
    assert not np.isnan(result["peak_m3s"])


def test_expert_entry_point_writes_the_inp_and_reports_swmm_figures(tmp_path, capsys):
    from twin.extract.drainage import main

    assert main([str(SAMPLE), "-o", str(tmp_path), "--state", "baseline", "-P", "1"]) == 0
    line = capsys.readouterr().out.strip()
    assert line.startswith("baseline P=1y: rain 45.7 mm") and "peak" in line
    assert (tmp_path / "baseline_P1.inp").read_text().startswith("[TITLE]")
    assert main([str(tmp_path / "missing")]) == 2
    assert "error:" in capsys.readouterr().err

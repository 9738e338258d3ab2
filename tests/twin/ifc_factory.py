"""Small IFC files made with ifcopenshell.api for the loader's tests: any schema, any length
unit, optional georeferencing, renovation statuses, a window type shared by many windows,
and a pipe connected to two chambers through ports."""
from __future__ import annotations

from pathlib import Path

import numpy as np
import ifcopenshell
import ifcopenshell.api


def run(usecase, f, **kwargs):
    return ifcopenshell.api.run(usecase, f, **kwargs)


def place(f, product, x=0.0, y=0.0, z=0.0, angle_deg=0.0):
    matrix = np.eye(4)
    a = np.radians(angle_deg)
    matrix[:2, :2] = [[np.cos(a), -np.sin(a)], [np.sin(a), np.cos(a)]]
    matrix[:3, 3] = [x, y, z]
    run("geometry.edit_object_placement", f, product=product, matrix=matrix, is_si=True)


def make_ifc(path: Path, *, schema: str = "IFC4", unit: str = "METERS", georef: tuple | None = None,
             site_at: tuple[float, float] = (0.0, 0.0), statuses: bool = False, windows: int = 0,
             storm: bool | str = False) -> dict:
    """Write a small model; returns facts the tests assert against (GlobalIds, counts).
    storm: True adds two manholes and a solid 300 mm pipe; "hollow" the pipe as a hollow profile
    with its bore in Pset_PipeSegmentTypeCommon.InnerDiameter."""
    import ifcopenshell.api.owner.settings as owner_settings

    saved = owner_settings.get_user, owner_settings.get_application
    try:
        return _make_ifc(path, schema=schema, unit=unit, georef=georef, site_at=site_at, statuses=statuses,
                         windows=windows, storm=storm)
    finally:  # ifcopenshell's owner settings are global: leave them as found for other code
        owner_settings.get_user, owner_settings.get_application = saved


def _make_ifc(path, *, schema, unit, georef, site_at, statuses, windows, storm) -> dict:
    f = ifcopenshell.api.run("project.create_file", version=schema)
    if schema == "IFC2X3":  # IFC2X3 requires an owner history on every rooted entity
        import ifcopenshell.api.owner.settings as owner_settings

        person = f.createIfcPerson(FamilyName="Tester")
        organisation = f.createIfcOrganization(Name="Community Twin")
        user = f.createIfcPersonAndOrganization(person, organisation)
        application = f.createIfcApplication(organisation, "0.1", "tests", "tests")
        owner_settings.get_user = lambda file: user
        owner_settings.get_application = lambda file: application
    project = run("root.create_entity", f, ifc_class="IfcProject", name="Test project")
    if unit == "METERS":
        length = run("unit.add_si_unit", f, unit_type="LENGTHUNIT")
        run("unit.assign_unit", f, units=[length])
    else:
        length = run("unit.add_si_unit", f, unit_type="LENGTHUNIT", prefix="MILLI")
        run("unit.assign_unit", f, units=[length])
    model = run("context.add_context", f, context_type="Model")
    body = run("context.add_context", f, context_type="Model", context_identifier="Body", target_view="MODEL_VIEW", parent=model)
    site = run("root.create_entity", f, ifc_class="IfcSite", name="Site")
    run("aggregate.assign_object", f, products=[site], relating_object=project)
    place(f, site, *site_at)
    if georef is not None and schema != "IFC2X3":
        east, north, height, angle = georef
        metre = f.createIfcSIUnit(None, "LENGTHUNIT", None, "METRE")
        crs = f.createIfcProjectedCRS(Name="EPSG:4549", MapUnit=metre)
        f.createIfcMapConversion(SourceCRS=model, TargetCRS=crs, Eastings=east, Northings=north, OrthogonalHeight=height,
                                 XAxisAbscissa=float(np.cos(np.radians(angle))), XAxisOrdinate=float(np.sin(np.radians(angle))), Scale=1.0 if unit == "METERS" else 0.001)
    building = run("root.create_entity", f, ifc_class="IfcBuilding", name="Block 1")
    run("aggregate.assign_object", f, products=[building], relating_object=site)
    storey = run("root.create_entity", f, ifc_class="IfcBuildingStorey", name="1F")
    run("aggregate.assign_object", f, products=[storey], relating_object=building)
    facts: dict = {"walls": [], "windows": [], "site": site.GlobalId, "building": building.GlobalId}

    wall_type = run("root.create_entity", f, ifc_class="IfcWallType", name="Wall 200")
    rep = run("geometry.add_wall_representation", f, context=body, length=10.0, height=3.0, thickness=0.2)
    run("geometry.assign_representation", f, product=wall_type, representation=rep)
    for i, status in enumerate(["EXISTING", "DEMOLISH", "NEW"]):
        wall = run("root.create_entity", f, ifc_class="IfcWall", name=f"Wall {i}")
        run("type.assign_type", f, related_objects=[wall], relating_type=wall_type)
        place(f, wall, x=site_at[0], y=site_at[1] + 5.0 * i)
        run("spatial.assign_container", f, products=[wall], relating_structure=storey)
        pset = run("pset.add_pset", f, product=wall, name="Pset_WallCommon")
        props = {"IsExternal": True}
        if statuses:
            props["Status"] = status
        run("pset.edit_pset", f, pset=pset, properties=props)
        facts["walls"].append(wall.GlobalId)
    qto = run("pset.add_qto", f, product=f.by_guid(facts["walls"][0]), name="Qto_WallBaseQuantities")
    run("pset.edit_qto", f, qto=qto, properties={"Length": 10.0 if unit == "METERS" else 10000.0})

    if windows:
        window_type = run("root.create_entity", f, ifc_class="IfcWindowStyle" if schema == "IFC2X3" else "IfcWindowType", name="Window 1.5×1.5")
        window_rep = run("geometry.add_wall_representation", f, context=body, length=1.5, height=1.5, thickness=0.1)
        run("geometry.assign_representation", f, product=window_type, representation=window_rep)
        for i in range(windows):
            window = run("root.create_entity", f, ifc_class="IfcWindow", name=f"Window {i}")
            run("type.assign_type", f, related_objects=[window], relating_type=window_type)
            place(f, window, x=site_at[0] + 2.0 * (i % 5), y=site_at[1] - 3.0, z=1.0 + 3.0 * (i // 5))
            run("spatial.assign_container", f, products=[window], relating_structure=storey)
            facts["windows"].append(window.GlobalId)

    if storm:
        if schema == "IFC2X3":
            system = run("system.add_system", f, ifc_class="IfcSystem")
            system.ObjectType = "STORMWATER"
        else:
            system = run("system.add_system", f, ifc_class="IfcDistributionSystem")
            system.PredefinedType = "STORMWATER"
        chambers = []
        for i, (x, z) in enumerate([(0.0, -2.0), (30.0, -2.3)]):
            chamber = run("root.create_entity", f, ifc_class="IfcDistributionChamberElement", name=f"MH{i}",
                          predefined_type=None if schema == "IFC2X3" else "MANHOLE")
            rep = run("geometry.add_wall_representation", f, context=body, length=1.0, height=2.0 + (0.3 if i else 0.0), thickness=1.0)
            run("geometry.assign_representation", f, product=chamber, representation=rep)
            place(f, chamber, x=site_at[0] + x - 0.5, y=site_at[1] + 50.0 - 0.5, z=z)
            run("spatial.assign_container", f, products=[chamber], relating_structure=site)
            chambers.append(chamber)
        pipe = run("root.create_entity", f, ifc_class="IfcFlowSegment" if schema == "IFC2X3" else "IfcPipeSegment",
                   predefined_type=None if schema == "IFC2X3" else "RIGIDSEGMENT", name="P1")
        mm = 1.0 if unit == "METERS" else 1000.0
        if storm == "hollow":  # a 300 mm concrete pipe with 20 mm walls, its bore declared in the standard pset
            profile = f.createIfcCircleHollowProfileDef("AREA", None, None, 0.15 * mm, 0.02 * mm)
            pset = run("pset.add_pset", f, product=pipe, name="Pset_PipeSegmentTypeCommon")
            run("pset.edit_pset", f, pset=pset, properties={"InnerDiameter": 0.26 * mm, "OuterDiameter": 0.30 * mm})
        else:
            profile = f.createIfcCircleProfileDef("AREA", None, None, 0.15 * mm)
        rep = run("geometry.add_profile_representation", f, context=body, profile=profile, depth=30.0)
        run("geometry.assign_representation", f, product=pipe, representation=rep)
        # Profile extrusion runs along local Z; turn local Z to point east (+x): local X → up.
        matrix = np.array([[0, 0, 1, site_at[0]], [0, 1, 0, site_at[1] + 50.0], [-1, 0, 0, -1.85], [0, 0, 0, 1]], dtype=float)
        run("geometry.edit_object_placement", f, product=pipe, matrix=matrix, is_si=True)
        run("spatial.assign_container", f, products=[pipe], relating_structure=site)
        run("system.assign_system", f, products=[pipe, *chambers], system=system)
        for chamber, role in zip(chambers, ("SOURCE", "SINK")):
            pipe_port = run("system.add_port", f, element=pipe)
            pipe_port.FlowDirection = "SOURCE" if role == "SINK" else "SINK"
            node_port = run("system.add_port", f, element=chamber)
            run("system.connect_port", f, port1=pipe_port, port2=node_port)
        facts["pipe"] = pipe.GlobalId
        facts["chambers"] = [c.GlobalId for c in chambers]
    f.write(str(path))
    return facts

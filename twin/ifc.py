"""IFC → Twin: the only module that imports ifcopenshell.

`load_ifc(path)` opens an IFC2X3 / IFC4 / IFC4X3 file (`.ifc` or `.ifczip`), checks it is
whole, triangulates every element with `ifcopenshell.geom.iterator` in local coordinates
with CGAL's simple kernel (one mesh per shared representation, placed by a float64
transform; the states of a project load in parallel, one file per core), converts
lengths to metres, applies IfcMapConversion once, and reads identity, containment,
property sets, quantities, renovation status, systems and port connections. A cache keyed
by the file's content makes a second load of an unchanged file cheap.

Bad input raises `IfcFileError` with one line naming the file; an element whose geometry
fails is skipped and reported in `Twin.warnings` with its GlobalId, class and reason.
"""
from __future__ import annotations

import contextlib
import ctypes
import io
import math
import os
import re
import sys
import zipfile
from pathlib import Path
from typing import Callable

import numpy as np

import ifcopenshell
import ifcopenshell.geom
import ifcopenshell.util.unit

from twin import cache as twin_cache
from twin.errors import IfcFileError
from twin.model import Element, Mesh, SpatialNode, Twin

LOADER_VERSION = "ifc-loader-8"
"""Bumped whenever what the loader produces changes, so stale cache entries are not used."""

Progress = Callable[[int, int, str], None]
"""progress(done, total, what) — called as elements are triangulated."""

_TRAILER = b"END-ISO-10303-21;"
_TRAILER_RE = re.compile(rb"END-ISO-10303-21;(?:\s|/\*.*?\*/)*\Z", re.S)  # comments may follow
_SCHEMA_RE = re.compile(rb"FILE_SCHEMA\s*\(\s*\(\s*'([^']*)'", re.IGNORECASE)
_SUPPORTED = {"IFC2X3": "IFC2X3", "IFC4": "IFC4", "IFC4X3_ADD2": "IFC4X3_ADD2", "IFC4X3": "IFC4X3_ADD2"}
# Releases ifcopenshell has no schema for, read as the nearest one it has (with a warning).
_NEAR_RELEASES = {
    "IFC4X3_RC1": "IFC4X3_ADD2", "IFC4X3_RC2": "IFC4X3_ADD2", "IFC4X3_RC3": "IFC4X3_ADD2",
    "IFC4X3_RC4": "IFC4X3_ADD2", "IFC4X3_TC1": "IFC4X3_ADD2", "IFC4X3_ADD1": "IFC4X3_ADD2",
    "IFC4X1": "IFC4X3_ADD2", "IFC4X2": "IFC4X3_ADD2", "IFC4X3_ADD2": "IFC4X3_ADD2",
}
# Classes kept as twin elements besides IfcElement (spaces and zones carry parking lots and
# assembly areas). Openings and other feature elements are cuts, not things: left out.
_EXTRA_ELEMENT_CLASSES = ("IfcSpace", "IfcSpatialZone", "IfcExternalSpatialElement")
_KEPT_ATTRIBUTES = {"OverallWidth": 1, "OverallHeight": 1, "Tag": 0, "LongName": 0, "CompositionType": 0}
PHASES = ("all", "before", "after")


# ---------------------------------------------------------------------------- reading the file

def read_ifc_bytes(path: Path) -> tuple[bytes, str]:
    """The IFC-SPF bytes of `path` (unzipping .ifczip) and the name to use in messages."""
    if not path.exists():
        raise IfcFileError(f"{path}: no such file")
    if path.is_dir():
        raise IfcFileError(f"{path}: is a folder, expected an .ifc or .ifczip file")
    data = path.read_bytes()
    if data[:4] == b"PK\x03\x04" or path.suffix.lower() == ".ifczip":
        try:
            archive = zipfile.ZipFile(io.BytesIO(data))
        except zipfile.BadZipFile as exc:
            raise IfcFileError(f"{path}: not a readable zip archive ({exc})") from None
        members = [n for n in archive.namelist() if n.lower().endswith(".ifc")]
        if not members:
            raise IfcFileError(f"{path}: zip archive holds no .ifc file (found: {', '.join(archive.namelist()[:5]) or 'nothing'})")
        if len(members) > 1:
            raise IfcFileError(f"{path}: zip archive holds {len(members)} .ifc files ({', '.join(members[:4])}); expected one")
        data = archive.read(members[0])
        return data, f"{path}!{members[0]}"
    return data, str(path)


def check_spf(data: bytes, where: str) -> tuple[str, str, list[str]]:
    """Check an IFC-SPF text is whole; return (schema named in the header, schema to read it as, warnings)."""
    head = data[:4096].lstrip(b"\xef\xbb\xbf \t\r\n")
    if not head.startswith(b"ISO-10303-21;"):
        if head.startswith(b"<"):
            raise IfcFileError(f"{where}: looks like XML (ifcXML is not supported); expected IFC-SPF text starting 'ISO-10303-21;'")
        if head.startswith(b"{") or head.startswith(b"["):
            raise IfcFileError(f"{where}: looks like JSON; expected IFC-SPF text starting 'ISO-10303-21;'")
        raise IfcFileError(f"{where}: not an IFC file (no 'ISO-10303-21;' header)")
    if not _TRAILER_RE.search(data[-65536:]):
        raise IfcFileError(f"{where}: truncated: the file does not end with '{_TRAILER.decode()}' (cut short while copying or saving?)")
    match = _SCHEMA_RE.search(data[:65536])
    if not match:
        raise IfcFileError(f"{where}: header has no FILE_SCHEMA")
    named = match.group(1).decode("ascii", "replace").upper()
    warnings: list[str] = []
    if named in _SUPPORTED:
        return named, _SUPPORTED[named], warnings
    if named in _NEAR_RELEASES:
        warnings.append(f"{where}: header names {named}, a pre-release of IFC 4.3; read as IFC4X3_ADD2 — entities that changed between releases may be missing")
        return named, _NEAR_RELEASES[named], warnings
    raise IfcFileError(f"{where}: unknown schema {named!r} (supported: IFC2X3, IFC4, IFC4X3 and its release candidates)")


def _parser_complaints(log: str) -> str:
    """One line summing up entities the parser skipped (names the schema does not know)."""
    unknown: dict[str, int] = {}
    for match in re.finditer(r"Entity with name '([^']+)' not found", log or ""):
        unknown[match.group(1)] = unknown.get(match.group(1), 0) + 1
    if not unknown:
        return ""
    listed = ", ".join(f"{name} ×{count}" for name, count in sorted(unknown.items()))
    return f"instances of entities unknown to the schema were skipped: {listed}"


def open_ifc(path: str | os.PathLike) -> tuple[ifcopenshell.file, str, list[str]]:
    """Open an IFC file whole-checked; returns (file, schema named in header, warnings)."""
    path = Path(path)
    data, where = read_ifc_bytes(path)
    named, read_as, warnings = check_spf(data, where)
    if read_as != named and named != "IFC4X3":
        data = _SCHEMA_RE.sub(lambda m: m.group(0).replace(m.group(1), read_as.encode()), data, count=1)
    elif named == "IFC4X3":
        data = _SCHEMA_RE.sub(lambda m: m.group(0).replace(m.group(1), b"IFC4X3_ADD2"), data, count=1)
    try:
        text = data.decode("utf-8")
    except UnicodeDecodeError:
        text = data.decode("latin-1")
    ifcopenshell.get_log()  # clear what earlier reads left
    try:
        model = ifcopenshell.file.from_string(text)
        skipped = _parser_complaints(ifcopenshell.get_log())
        if skipped:
            warnings.append(f"{where}: {skipped}")
    except Exception as exc:  # ifcopenshell raises several types for bad SPF
        message = str(exc).strip().splitlines()[0] if str(exc).strip() else type(exc).__name__
        raise IfcFileError(f"{where}: cannot be parsed as {read_as}: {message}") from None
    if not model.by_type("IfcProject"):
        raise IfcFileError(f"{where}: empty model: no IfcProject")
    if not model.by_type("IfcProduct"):
        raise IfcFileError(f"{where}: empty model: no products (no sites, buildings or elements)")
    return model, named, warnings


# ---------------------------------------------------------------------------- properties

def _measure_scale(value, length_scale: float) -> float:
    """Factor that turns an IFC measure value into SI, by its measure type."""
    kind = value.is_a() if hasattr(value, "is_a") else ""
    if kind in ("IfcLengthMeasure", "IfcPositiveLengthMeasure", "IfcNonNegativeLengthMeasure"):
        return length_scale
    if kind == "IfcAreaMeasure":
        return length_scale**2
    if kind == "IfcVolumeMeasure":
        return length_scale**3
    return 1.0


def _value(value, length_scale: float):
    if value is None:
        return None
    if hasattr(value, "wrappedValue"):
        raw = value.wrappedValue
        if isinstance(raw, (int, float)) and not isinstance(raw, bool):
            return raw * _measure_scale(value, length_scale) if _measure_scale(value, length_scale) != 1.0 else raw
        return raw
    return value


def _read_property(prop, length_scale: float):
    kind = prop.is_a()
    if kind == "IfcPropertySingleValue":
        unit = getattr(prop, "Unit", None)
        if unit is not None and getattr(unit, "UnitType", None) == "LENGTHUNIT":
            length_scale = _unit_to_metres(unit)  # a unit on the property overrides the project's
        return _value(prop.NominalValue, length_scale)
    if kind == "IfcPropertyEnumeratedValue":
        values = [_value(v, length_scale) for v in (prop.EnumerationValues or ())]
        return values[0] if len(values) == 1 else values
    if kind == "IfcPropertyListValue":
        return [_value(v, length_scale) for v in (prop.ListValues or ())]
    if kind == "IfcPropertyBoundedValue":
        return {"upper": _value(prop.UpperBoundValue, length_scale), "lower": _value(prop.LowerBoundValue, length_scale)}
    return None


_QUANTITY_SCALE = {"IfcQuantityLength": 1, "IfcQuantityArea": 2, "IfcQuantityVolume": 3}


def _read_definition(definition, length_scale: float) -> tuple[str, dict] | None:
    """(name, {property: value}) of an IfcPropertySet or IfcElementQuantity, SI units."""
    kind = definition.is_a()
    if kind == "IfcPropertySet":
        values = {}
        for prop in definition.HasProperties or ():
            values[prop.Name] = _read_property(prop, length_scale)
        return definition.Name or "", values
    if kind == "IfcElementQuantity":
        values = {}
        for quantity in definition.Quantities or ():
            power = _QUANTITY_SCALE.get(quantity.is_a(), 0)
            if quantity.is_a() == "IfcPhysicalComplexQuantity":
                continue
            raw = quantity[3]  # LengthValue / AreaValue / VolumeValue / CountValue / WeightValue / TimeValue
            values[quantity.Name] = raw * length_scale**power if isinstance(raw, (int, float)) else raw
        return definition.Name or "", values
    return None


def _definitions_by_object(model, length_scale: float) -> dict[int, dict[str, dict]]:
    """Property and quantity sets per object id: type's sets first, the occurrence's override."""
    from_type: dict[int, dict[str, dict]] = {}
    for rel in model.by_type("IfcRelDefinesByType"):
        type_sets: dict[str, dict] = {}
        for definition in getattr(rel.RelatingType, "HasPropertySets", None) or ():
            read = _read_definition(definition, length_scale)
            if read:
                type_sets[read[0]] = read[1]
        for obj in rel.RelatedObjects:
            from_type[obj.id()] = type_sets
    result: dict[int, dict[str, dict]] = {oid: {k: dict(v) for k, v in sets.items()} for oid, sets in from_type.items()}
    for rel in model.by_type("IfcRelDefinesByProperties"):
        definitions = rel.RelatingPropertyDefinition
        if not isinstance(definitions, (list, tuple)):
            definitions = [definitions]
        read_sets = [r for r in (_read_definition(d, length_scale) for d in definitions) if r]
        if not read_sets:
            continue
        for obj in rel.RelatedObjects:
            target = result.setdefault(obj.id(), {})
            for name, values in read_sets:
                target.setdefault(name, {}).update(values)
    return result


def _status(psets: dict[str, dict]) -> str | None:
    for name, values in psets.items():
        if name.startswith("Pset_") and name.endswith("Common") and values.get("Status") is not None:
            status = values["Status"]
            if isinstance(status, list):
                status = status[0] if status else None
            return str(status).upper() if status is not None else None
    return None


# ---------------------------------------------------------------------------- georeferencing

def _placement_matrix(placement, length_scale: float) -> np.ndarray:
    """World matrix (metres) of an IfcLocalPlacement chain, float64."""
    import ifcopenshell.util.placement as placement_util

    matrix = np.array(placement_util.get_local_placement(placement), dtype=np.float64)
    matrix[:3, 3] *= length_scale
    return matrix


def _georeference(model, length_scale: float, where: str, warnings: list[str]) -> tuple[np.ndarray, tuple[float, float, float], str | None]:
    """(4×4 matrix from engineering to twin coordinates, map origin, CRS name).

    Twin coordinates are map coordinates minus the origin. With an IfcMapConversion the
    origin is its (Eastings, Northings, OrthogonalHeight) and the matrix applies its rotation
    and scale. A file whose site already sits at map coordinates as well as carrying a map
    conversion is georeferenced twice: the conversion is then not applied again.
    """
    sites = model.by_type("IfcSite")
    site_xyz = np.zeros(3)
    if sites and sites[0].ObjectPlacement is not None:
        try:
            site_xyz = _placement_matrix(sites[0].ObjectPlacement, length_scale)[:3, 3]
        except Exception:
            site_xyz = np.zeros(3)
    conversions = model.by_type("IfcMapConversion") if model.schema != "IFC2X3" else []
    if conversions:
        conv = conversions[0]
        crs = conv.TargetCRS
        crs_name = getattr(crs, "Name", None)
        map_unit = 1.0
        if getattr(crs, "MapUnit", None) is not None:
            map_unit = _unit_to_metres(crs.MapUnit)
        else:
            map_unit = length_scale  # IFC4: without MapUnit, map values are in the project length unit
            if abs(length_scale - 1.0) > 1e-9:
                warnings.append(f"{where}: IfcProjectedCRS {crs_name!r} has no MapUnit; eastings and northings read in the project length unit ({length_scale} m) as IFC4 specifies")
        east = float(conv.Eastings) * map_unit
        north = float(conv.Northings) * map_unit
        height = float(conv.OrthogonalHeight) * map_unit
        abscissa = conv.XAxisAbscissa if conv.XAxisAbscissa is not None else 1.0
        ordinate = conv.XAxisOrdinate if conv.XAxisOrdinate is not None else 0.0
        angle = math.atan2(ordinate, abscissa)
        scale = float(conv.Scale) if conv.Scale is not None else 1.0
        # The geometry is already in metres; the conversion's Scale should only carry the grid
        # scale factor (≈ 1). A Scale that also converts units would scale twice.
        effective = scale * map_unit / length_scale  # map metres per engineering metre
        if abs(effective - 1.0) > 0.01:
            warnings.append(f"{where}: IfcMapConversion.Scale={scale} with length unit {length_scale} m and map unit {map_unit} m gives {effective:.4g}; geometry is already in metres, scale 1 used")
            effective = 1.0
        horizontal = math.hypot(*site_xyz[:2])
        if horizontal > 1.0e5 and abs(site_xyz[0] - east) < 5.0e4 and abs(site_xyz[1] - north) < 5.0e4:
            warnings.append(f"{where}: georeferenced twice: the site placement is already at map coordinates ({site_xyz[0]:.0f}, {site_xyz[1]:.0f}) and an IfcMapConversion to ({east:.0f}, {north:.0f}) is given; the conversion was not applied again")
            matrix = np.eye(4)
            matrix[:3, 3] = -np.array([east, north, height])
            return matrix, (east, north, height), crs_name
        cos_a, sin_a = math.cos(angle), math.sin(angle)
        matrix = np.array([[cos_a * effective, -sin_a * effective, 0, 0],
                           [sin_a * effective, cos_a * effective, 0, 0],
                           [0, 0, effective, 0],
                           [0, 0, 0, 1.0]])
        return matrix, (east, north, height), crs_name
    # Not georeferenced: engineering coordinates as they are; _recentre moves the origin next
    # to the elements afterwards if they sit far from it.
    return np.eye(4), (0.0, 0.0, 0.0), None


_PREFIX = {"MILLI": 1e-3, "CENTI": 1e-2, "DECI": 1e-1, "KILO": 1e3}


def _unit_to_metres(unit) -> float:
    """Metres per one of `unit` (an IfcSIUnit or IfcConversionBasedUnit of length)."""
    if unit.is_a("IfcSIUnit"):
        return _PREFIX.get(unit.Prefix, 1.0)
    if unit.is_a("IfcConversionBasedUnit"):
        factor = unit.ConversionFactor
        return float(factor.ValueComponent.wrappedValue) * _unit_to_metres(factor.UnitComponent)
    return 1.0


# ---------------------------------------------------------------------------- geometry

def _geometry_settings() -> ifcopenshell.geom.settings:
    settings = ifcopenshell.geom.settings()
    settings.set("use-world-coords", False)  # local meshes + placements: shared geometry stays shared
    # Geometry in file units, scaled to metres here: ifcopenshell leaves units unconverted,
    # silently, when a file holds more than one context (an IfcProjectLibrary beside the project).
    settings.set("convert-back-units", True)
    settings.set("weld-vertices", True)
    settings.set("no-normals", True)  # the viewer computes normals; halves the output
    settings.set("apply-default-materials", False)
    # Circles as 16-gons: 2.6 % less area than the true circle, invisible at community scale, and
    # half the triangles and CPU of the default on a model of pipes and manholes. Hydraulic
    # sizes come from properties, not from the tessellation.
    settings.set("circle-segments", 16)
    return settings


GEOMETRY_LIBRARIES = ("hybrid-cgal-simple-opencascade", "opencascade")
"""Tried in order. CGAL's simple kernel with OpenCascade as the fallback per element gives the
same triangles as OpenCascade alone at a fraction of the CPU (measured: 0.16 s against 0.74 s
on 1,440 walls and columns); plain OpenCascade is the fallback when it cannot start."""


def _iterate_shapes(model, settings, threads: int, on_shape, progress: Progress | None, total: int,
                    library: str) -> bool:
    """Run the geometry iterator; call on_shape(shape) per element. False if it produced nothing."""
    try:
        iterator = ifcopenshell.geom.iterator(settings, model, threads, geometry_library=library)
    except Exception:
        return False
    try:
        ok = iterator.initialize()
    except Exception:
        return False
    if not ok:
        return False
    done = 0
    while True:
        on_shape(iterator.get())
        done += 1
        if progress is not None and (done % 50 == 0 or done == total):
            progress(done, total, "triangulating")
        if not iterator.next():
            break
    return True


# ---------------------------------------------------------------------------- the loader

def load_ifc(path: str | os.PathLike, *, phase: str = "all", cache: bool = True,
             progress: Progress | None = None, name: str | None = None,
             threads: int | None = None) -> Twin:
    """Load an IFC file into a Twin.

    phase: "all" (every element as the file has it), "before" (EXISTING, DEMOLISH and
    unset statuses) or "after" (EXISTING, NEW and unset) — see docs/ifc_mapping.md.
    cache: reuse the result of an earlier load of a file with the same content.
    """
    if phase not in PHASES:
        raise ValueError(f"phase must be one of {PHASES}, not {phase!r}")
    path = Path(path)
    data, where = read_ifc_bytes(path)
    key = twin_cache.content_key(data, LOADER_VERSION) if cache else None
    twin = twin_cache.get(key) if key else None
    if twin is None:
        try:
            twin = _load_uncached(path, progress=progress, threads=threads)
        except IfcFileError:
            raise
        except Exception as exc:  # an ifcopenshell failure on a file we could parse: still one line
            if os.environ.get("TWIN_DEBUG"):
                raise
            message = str(exc).strip().splitlines()[0] if str(exc).strip() else ""
            raise IfcFileError(f"{where}: could not be read ({type(exc).__name__}: {message}); set TWIN_DEBUG=1 for the traceback") from None
        if key:
            twin_cache.put(key, twin)
    twin.name = name or path.stem
    twin.source = str(path)
    return filter_phase(twin, phase)


def filter_phase(twin: Twin, phase: str) -> Twin:
    """The Twin as it stands before or after the works its renovation statuses describe."""
    if phase == "all":
        return twin
    keep = {"before": {"EXISTING", "DEMOLISH", None}, "after": {"EXISTING", "NEW", None}}[phase]
    twin.elements = {gid: e for gid, e in twin.elements.items() if (e.status if e.status in {"NEW", "EXISTING", "DEMOLISH", "TEMPORARY"} else None) in keep}
    used = {e.mesh_id for e in twin.elements.values()} | {s.mesh_id for s in twin.spatial.values()}
    twin.meshes = {k: m for k, m in twin.meshes.items() if k in used}
    twin.name = f"{twin.name}:{phase}"
    twin.invalidate_layers()
    return twin


def _load_uncached(path: Path, *, progress: Progress | None, threads: int | None) -> Twin:
    model, named_schema, warnings = open_ifc(path)
    where = str(path)
    length_scale = ifcopenshell.util.unit.calculate_unit_scale(model)
    georef, origin, crs = _georeference(model, length_scale, where, warnings)

    definitions = _definitions_by_object(model, length_scale)

    # Spatial tree
    spatial: dict[str, SpatialNode] = {}
    parent_of: dict[int, object] = {}
    for rel in model.by_type("IfcRelAggregates"):
        for child in rel.RelatedObjects:
            parent_of[child.id()] = rel.RelatingObject
    container_of: dict[int, object] = {}
    for rel in model.by_type("IfcRelContainedInSpatialStructure"):
        for child in rel.RelatedElements:
            container_of[child.id()] = rel.RelatingStructure
    spatial_classes = ["IfcProject", "IfcSpatialStructureElement"] if model.schema == "IFC2X3" else ["IfcProject", "IfcSpatialElement"]
    spatial_entities = []
    for cls in spatial_classes:
        spatial_entities.extend(model.by_type(cls))
    spatial_entities = [s for s in spatial_entities if not s.is_a("IfcSpace") and not s.is_a("IfcSpatialZone") and not s.is_a("IfcExternalSpatialElement")]
    for entity in spatial_entities:
        parent = parent_of.get(entity.id()) or container_of.get(entity.id())
        elevation = None
        if entity.is_a("IfcBuildingStorey") and entity.Elevation is not None:
            elevation = float(entity.Elevation) * length_scale
        spatial[entity.GlobalId] = SpatialNode(global_id=entity.GlobalId, ifc_class=entity.is_a(), name=entity.Name,
                                               parent=parent.GlobalId if parent is not None else None, elevation_m=elevation,
                                               psets=definitions.get(entity.id(), {}))

    def building_and_storey(container) -> tuple[str | None, str | None]:
        building = storey = None
        node = container
        seen = 0
        while node is not None and seen < 64:
            if node.is_a("IfcBuildingStorey") and storey is None:
                storey = node.Name
            if node.is_a("IfcBuilding"):
                building = node.GlobalId
                break
            node = parent_of.get(node.id()) or container_of.get(node.id())
            seen += 1
        return building, storey

    # Systems and port connections
    systems_of: dict[int, list[str]] = {}
    system_class = "IfcSystem"
    for rel in model.by_type("IfcRelAssignsToGroup"):
        group = rel.RelatingGroup
        if group is None or not group.is_a(system_class):
            continue
        label = getattr(group, "PredefinedType", None) or group.ObjectType or group.Name or group.is_a()
        for obj in rel.RelatedObjects:
            systems_of.setdefault(obj.id(), []).append(str(label))
    port_owner: dict[int, object] = {}
    if model.schema == "IFC2X3":
        for rel in model.by_type("IfcRelConnectsPortToElement"):
            port_owner[rel.RelatingPort.id()] = rel.RelatedElement
    else:
        for rel in model.by_type("IfcRelNests"):
            for obj in rel.RelatedObjects:
                if obj.is_a("IfcPort"):
                    port_owner[obj.id()] = rel.RelatingObject
        for rel in model.by_type("IfcRelConnectsPortToElement"):
            port_owner.setdefault(rel.RelatingPort.id(), rel.RelatedElement)
    connected: dict[int, list[str]] = {}
    for rel in model.by_type("IfcRelConnectsPorts"):
        a = port_owner.get(rel.RelatingPort.id())
        b = port_owner.get(rel.RelatedPort.id())
        if a is not None and b is not None and a.id() != b.id():
            connected.setdefault(a.id(), []).append(b.GlobalId)
            connected.setdefault(b.id(), []).append(a.GlobalId)

    # Elements
    products = list(model.by_type("IfcElement"))
    for cls in _EXTRA_ELEMENT_CLASSES:
        try:
            products.extend(model.by_type(cls))
        except RuntimeError:
            pass  # class not in this schema
    elements: dict[str, Element] = {}
    attribute_names: dict[str, set[str]] = {}
    for entity in products:
        if entity.is_a("IfcFeatureElement"):
            continue  # openings and other cuts, not things
        gid = entity.GlobalId
        if gid in elements:
            warnings.append(f"{where}: GlobalId {gid} used twice (#{entity.id()} {entity.is_a()}); the second is ignored")
            continue
        container = container_of.get(entity.id())
        host = entity
        hops = 0
        while container is None and host is not None and hops < 16:  # parts inherit their assembly's container
            host = parent_of.get(host.id())
            container = container_of.get(host.id()) if host is not None else None
            if host is not None and host.is_a("IfcSpatialElement" if model.schema != "IFC2X3" else "IfcSpatialStructureElement"):
                container = host
            hops += 1
        building, storey = building_and_storey(container) if container is not None else (None, None)
        psets = definitions.get(entity.id(), {})
        cls = entity.is_a()
        if cls not in attribute_names:
            attribute_names[cls] = set(entity.get_attribute_names())
        names = attribute_names[cls]
        attributes = {}
        for attr, is_length in _KEPT_ATTRIBUTES.items():
            value = getattr(entity, attr) if attr in names else None
            if value is not None:
                attributes[attr] = float(value) * length_scale if is_length else value
        elements[gid] = Element(
            global_id=gid, ifc_class=cls,
            predefined_type=entity.PredefinedType if "PredefinedType" in names else None,
            name=entity.Name, object_type=entity.ObjectType if "ObjectType" in names else None,
            container=container.GlobalId if container is not None else None,
            storey=storey, building=building, attributes=attributes, psets=psets,
            status=_status(psets), connected_to=list(dict.fromkeys(connected.get(entity.id(), []))),
            systems=systems_of.get(entity.id(), []),
        )

    # Geometry
    meshes: dict[str, Mesh] = {}
    mesh_offset: dict[str, np.ndarray] = {}
    with_shape: set[str] = set()
    site_meshes: dict[str, tuple[str, np.ndarray]] = {}

    def on_shape(shape) -> None:
        gid = shape.guid
        geometry = shape.geometry
        verts = np.asarray(geometry.verts, dtype=np.float64).reshape(-1, 3) * length_scale
        faces = np.asarray(geometry.faces, dtype=np.int32).reshape(-1, 3)
        if len(faces) == 0 or not np.all(np.isfinite(verts)):
            return
        mesh_id = str(geometry.id)
        if mesh_id not in meshes:
            # Representations authored in world coordinates: recentre so float32 stays exact.
            centre = np.round(verts.mean(axis=0), 0) if np.abs(verts).max() > 1.0e4 else np.zeros(3)
            meshes[mesh_id] = Mesh(vertices=verts - centre, faces=faces)
            mesh_offset[mesh_id] = centre
        placement = np.array(shape.transformation.matrix, dtype=np.float64).reshape(4, 4).T  # column-major
        placement[:3, 3] *= length_scale
        offset = np.eye(4)
        offset[:3, 3] = mesh_offset[mesh_id]
        transform = georef @ placement @ offset
        if gid in elements:
            elements[gid].mesh_id = mesh_id
            elements[gid].transform = transform
            with_shape.add(gid)
        elif gid in spatial:
            site_meshes[gid] = (mesh_id, transform)

    settings = _geometry_settings()
    # One geometry thread per file: a second one on the same file cost CPU and gained no wall
    # time on this 2-core machine (0.29 s CPU / 0.30 s wall with one, 0.53 s / 0.40 s with two, on
    # 1,440 elements); cores are used by loading the states of a project in parallel instead.
    threads = threads or 1
    wanted = [e for e in model.by_type("IfcProduct") if getattr(e, "Representation", None) is not None]
    total = len(wanted)
    with _quiet_stdout():
        _triangulate(model, wanted, elements, settings, threads, on_shape, progress, total, where, warnings)
    for product in wanted:
        gid = product.GlobalId
        if gid in elements and gid not in with_shape and not product.is_a("IfcFeatureElement"):
            if _has_body(product):
                warnings.append(f"{where}: geometry failed for {gid} ({product.is_a()}): no triangles produced; element kept without mesh")
    for gid, (mesh_id, transform) in site_meshes.items():
        spatial[gid].mesh_id = mesh_id
        spatial[gid].transform = transform
    for site in model.by_type("IfcSite"):
        try:
            spatial[site.GlobalId].outline = _footprint_outline(site, length_scale, georef)
        except Exception as exc:  # an odd curve costs the outline only
            warnings.append(f"{where}: site {site.GlobalId} footprint not read: {type(exc).__name__}")
    if crs is None and origin == (0.0, 0.0, 0.0):
        origin = _recentre([e.transform for e in elements.values() if e.mesh_id] + [n.transform for n in spatial.values() if n.mesh_id])

    if not elements and not site_meshes:
        raise IfcFileError(f"{where}: empty model: no elements")
    used = {e.mesh_id for e in elements.values()} | {m for m, _ in site_meshes.values()}
    meshes = {k: m for k, m in meshes.items() if k in used}  # openings and the like have bodies too
    return Twin(name=path.stem, source=str(path), schema=named_schema, crs=crs, origin=origin,
                elements=elements, meshes=meshes, spatial=spatial, warnings=warnings)


def _triangulate(model, wanted: list, elements: dict, settings, threads: int, on_shape, progress: Progress | None,
                 total: int, where: str, warnings: list[str]) -> None:
    """Every product's shape through on_shape: the iterator with each geometry library in turn,
    and element by element when one broken representation stops the iterator altogether."""
    if not total:
        return
    if any(_iterate_shapes(model, settings, threads, on_shape, progress, total, library) for library in GEOMETRY_LIBRARIES):
        return
    warnings.append(f"{where}: the geometry iterator stopped on a broken representation; triangulated element by element instead")
    for index, product in enumerate(wanted):
        try:
            shape = ifcopenshell.geom.create_shape(settings, product)
        except Exception as exc:
            reason = str(exc).strip().splitlines()[0] if str(exc).strip() else type(exc).__name__
            if product.GlobalId in elements:
                warnings.append(f"{where}: geometry failed for {product.GlobalId} ({product.is_a()}): {reason}; element kept without mesh")
            continue
        on_shape(_ShapeRecord(product.GlobalId, shape))
        if progress is not None and (index % 50 == 0 or index + 1 == total):
            progress(index + 1, total, "triangulating (element by element)")


def _footprint_outline(product, length_scale: float, georef: np.ndarray) -> list[tuple[float, float]] | None:
    """The closed plan outline of a product's 'FootPrint' representation (IfcPolyline or
    IfcIndexedPolyCurve), in twin coordinates; None if it has none."""
    if product.Representation is None or product.ObjectPlacement is None:
        return None
    for representation in product.Representation.Representations or ():
        if (representation.RepresentationIdentifier or "") != "FootPrint":
            continue
        for item in representation.Items or ():
            if item.is_a("IfcPolyline"):
                points = [tuple(p.Coordinates) for p in item.Points]
            elif item.is_a("IfcIndexedPolyCurve"):
                points = [tuple(c) for c in item.Points.CoordList]
            else:
                continue
            local = np.array([(p[0], p[1], p[2] if len(p) > 2 else 0.0) for p in points], dtype=np.float64) * length_scale
            matrix = georef @ _placement_matrix(product.ObjectPlacement, length_scale)
            world = local @ matrix[:3, :3].T + matrix[:3, 3]
            if len(world) >= 3:
                return [(float(x), float(y)) for x, y in world[:, :2]]
    return None


def _recentre(transforms: list[np.ndarray]) -> tuple[float, float, float]:
    """Keep large engineering coordinates precise for float32 consumers (GLB, viewers): when
    the elements sit more than 10 km from the file's origin, move the twin's origin to their
    median, rounded to 100 m, shifting the transforms in place. Returns the new origin."""
    if not transforms:
        return (0.0, 0.0, 0.0)
    median = np.median(np.array([t[:3, 3] for t in transforms]), axis=0)
    if math.hypot(median[0], median[1]) <= 1.0e4:
        return (0.0, 0.0, 0.0)
    shift = np.array([round(median[0], -2), round(median[1], -2), 0.0])
    for transform in transforms:
        transform[:3, 3] -= shift
    return (float(shift[0]), float(shift[1]), 0.0)


@contextlib.contextmanager
def _quiet_stdout():
    """Send file descriptor 1 to /dev/null: ifcopenshell's geometry code prints debug dumps
    for some representations straight to stdout, which would corrupt `twin info --json`."""
    sys.stdout.flush()
    saved = os.dup(1)
    devnull = os.open(os.devnull, os.O_WRONLY)
    try:
        os.dup2(devnull, 1)
        yield
    finally:
        try:
            ctypes.CDLL(None).fflush(None)
        except Exception:
            pass
        os.dup2(saved, 1)
        os.close(saved)
        os.close(devnull)


def _has_body(product) -> bool:
    for representation in product.Representation.Representations or ():
        if (representation.RepresentationIdentifier or "Body") in ("Body", "Facetation", "Reference"):
            if representation.RepresentationType not in ("Curve2D", "Curve3D", "Annotation2D", "GeometricCurveSet", "Point", "PointCloud", None):
                return True
    return False


class _ShapeRecord:
    """create_shape's result dressed like an iterator shape (guid, geometry, transformation)."""

    def __init__(self, guid: str, shape) -> None:
        self.guid = guid
        self.geometry = shape.geometry
        self.transformation = shape.transformation

"""Community Twin: IFC/CIM models of an old residential community loaded into one twin.

`twin.ifc.load_ifc` builds a `twin.model.Twin` from an IFC file, `twin.project` reads a
project.toml naming the states, `twin.layers` extracts what the engines need, `twin.diff`
compares two states, `twin.export` writes GLB, `twin.cim` adds GeoJSON city context.
"""
__version__ = "0.1.0"

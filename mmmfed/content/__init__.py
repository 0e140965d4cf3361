"""Content (ITU FGMV-43 9.3, COIFC): what content is, independent of any node.

* :mod:`.package`: a content of one or more content-addressed parts (sha-256 per part), and the
  reading of a glTF 2.0 model in its JSON form (``.gltf`` with external buffers and images) as
  one package whose URIs may not leave it (COIR-204).
* :mod:`.glb_pack`: such a package packed into one GLB, so the bridge's Conversion Service, which
  takes GLB, converts it (COIR-205).
* :mod:`.kinds`: the content kinds of FGMV-43 7.3 (3D model, image, sound, text), each file
  checked and qualified by its kind.
* :mod:`.metadata`: the metadata that travels with a content (COIR-102/103/106).
* :mod:`.item`: the one Item (MMM-TEC V2.2) that describes a content and lists its parts.
"""

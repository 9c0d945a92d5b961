"""The record format and its compiled core: layout, checksum, counters, the fold (ext/core.pyx or
its Python twin) and HDR histograms.
"""

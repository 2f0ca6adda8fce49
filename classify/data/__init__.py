"""Data: what comes in. Label sets, segmentation of raw documents into paragraphs, annotation
files of labeled paragraphs, and the readers of texts, files, stdin, CSV and JSONL rows that
``classify predict`` tags.

May import the leaf helpers only (:mod:`classify.errors`, :mod:`classify.text`, ...). Nothing here
knows about models.
"""

"""The language: what a program is, and program text in and out.

``primitives`` (THE table of functions: numpy evaluation, one derivative rule per argument) <-
``rules`` (the table's rule text read into steps and numpy functions) <- ``program`` (the tape a
program is held as) <- ``parser`` (text -> program, with ``syntax_errors`` for Lark's errors in
plain words; the only module that imports lark) and ``printer`` (program -> text). The grammar
itself is ``grammar/slp.lark``, shipped as ``slpdiff.language.grammar``.
"""

# A package, so that this directory's conftest does not take the top-level name "conftest" that the
# other tests import their helpers from (pytest drops a plain conftest module of the same name).

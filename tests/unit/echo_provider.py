"""A dynamic provider that returns its inputs among its outputs, as this project's providers do,
and fails loudly when handed old outputs without them."""

from pulumi.dynamic import CreateResult, DiffResult, ReadResult, ResourceProvider, UpdateResult


class EchoProvider(ResourceProvider):
    def create(self, props):
        return CreateResult("echo-1", {**props, "made": "at create"})

    def diff(self, _id, olds, news):
        return DiffResult(changes=olds["size"] != news["size"])  # KeyError without the old inputs

    def update(self, _id, olds, news):
        return UpdateResult({**news, "made": olds["made"], "was": olds["size"]})

    def read(self, id_, props):
        return ReadResult(id_, {**props, "seen": props["size"]})

    def delete(self, _id, props):
        if "size" not in props:
            raise ValueError("delete was handed outputs without the inputs")

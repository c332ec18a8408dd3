"""The built-in subscriber that tells each publish's build as OpenLineage RunEvents.

Each `BuildRun` (START, then COMPLETE or FAIL) becomes one RunEvent of the job
``<domain>.<product>`` in the mesh's namespace (``QUANTA_OPENLINEAGE_NAMESPACE``), through
openlineage-python: input and output datasets (a port at a major version,
``checkout.orders.orders.v1``, with the published version as its datasetVersion facet;
a source file in the ``file`` namespace), their schema facets, the column lineage facet
(from the SQL, through sqlglot) and the data quality assertions facet (the checks). The
events go to ``home/lineage/openlineage.jsonl``, one a line, or to ``QUANTA_OPENLINEAGE_URL``
(Marquez, say) over HTTP. The client is imported on the first build, not before.
"""

from __future__ import annotations

from collections.abc import Callable
from datetime import UTC
from typing import TYPE_CHECKING, Any

from quanta.events import BuildRun, Event, LineageDataset, Subscriber

if TYPE_CHECKING:
    from quanta.mesh import Mesh

PRODUCER = "https://quanta.example/quanta"
"""Who produced the events (OpenLineage's ``producer``): Quanta."""
FILE = "lineage/openlineage.jsonl"
"""Under the home; its folder is one of `quanta.examples.HOME_ENTRIES`."""


def emit_openlineage(mesh: Mesh) -> Subscriber:
    settings = mesh.settings
    send: Callable[[Any], object] | None = None

    def transport() -> Callable[[Any], object]:
        from openlineage.client.transport.file import FileConfig, FileTransport
        from openlineage.client.transport.http import HttpConfig, HttpTransport

        if settings.openlineage_url:
            # Sent once, within 5 s: a publish never waits on a lineage server's retries.
            config = HttpConfig(url=settings.openlineage_url, timeout=5.0, retry={"total": 0})
            return HttpTransport(config).emit
        path = settings.home / FILE
        path.parent.mkdir(parents=True, exist_ok=True)
        return FileTransport(FileConfig(log_file_path=str(path), append=True)).emit

    def emit(event: Event) -> None:
        nonlocal send
        if not isinstance(event, BuildRun):
            return
        if send is None:
            send = transport()
        send(run_event(event, settings.openlineage_namespace))

    return emit


def run_event(run: BuildRun, namespace: str) -> Any:
    """The OpenLineage RunEvent of ``run`` (an ``openlineage.client.event_v2.RunEvent``)."""
    from openlineage.client.event_v2 import (
        InputDataset,
        Job,
        OutputDataset,
        Run,
        RunEvent,
        RunState,
    )
    from openlineage.client.generated import (
        column_lineage_dataset,
        data_quality_assertions_dataset,
        dataset_version_dataset,
        error_message_run,
        schema_dataset,
    )

    def facets(dataset: LineageDataset) -> dict[str, Any]:
        found: dict[str, Any] = {}
        if dataset.columns:
            found["schema"] = schema_dataset.SchemaDatasetFacet(
                fields=[
                    schema_dataset.SchemaDatasetFacetFields(name=name, type=kind or None)
                    for name, kind in dataset.columns
                ],
                producer=PRODUCER,
            )
        if dataset.version is not None:
            found["version"] = dataset_version_dataset.DatasetVersionDatasetFacet(
                datasetVersion=str(dataset.version), producer=PRODUCER
            )
        return found

    def where(name: str) -> str:
        files = {d.name for d in run.inputs if d.file}
        return "file" if name in files else namespace

    outputs = []
    for dataset in run.outputs:
        found = facets(dataset)
        fields = {
            column: column_lineage_dataset.Fields(
                inputFields=[
                    column_lineage_dataset.InputField(namespace=where(name), name=name, field=field)
                    for name, field in sources
                ]
            )
            for output, column, sources in run.derived
            if output == dataset.name
        }
        if fields:
            found["columnLineage"] = column_lineage_dataset.ColumnLineageDatasetFacet(
                fields=fields, producer=PRODUCER
            )
        assertions = [
            data_quality_assertions_dataset.Assertion(assertion=name, success=passed, column=column)
            for output, name, column, passed in run.assertions
            if output == dataset.name
        ]
        if assertions:
            found["dataQualityAssertions"] = (
                data_quality_assertions_dataset.DataQualityAssertionsDatasetFacet(
                    assertions=assertions, producer=PRODUCER
                )
            )
        outputs.append(OutputDataset(namespace=namespace, name=dataset.name, facets=found))
    inputs = [
        InputDataset(
            namespace="file" if dataset.file else namespace,
            name=dataset.name,
            facets=facets(dataset),
        )
        for dataset in run.inputs
    ]
    run_facets: dict[str, Any] = {}
    if run.state == "FAIL":
        # The step only: a failure's own message may quote a value of the data.
        run_facets["errorMessage"] = error_message_run.ErrorMessageRunFacet(
            message=f"the publish stopped at its {run.step or 'build'} step",
            programmingLanguage="python",
            producer=PRODUCER,
        )
    return RunEvent(
        eventType=RunState[run.state],
        eventTime=run.at.astimezone(UTC).isoformat(),
        producer=PRODUCER,
        run=Run(runId=run.run, facets=run_facets),
        job=Job(namespace=namespace, name=run.subject),
        inputs=inputs,
        outputs=outputs,
    )

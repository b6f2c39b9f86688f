"""The JVM services' common ground: Apache Kafka's jars from Maven Central, the java command, a log4j config.

The jars are resolved once with ``mvn`` into ``~/.cache/modeldb/kafka-<version>`` (``XDG_CACHE_HOME``
is honoured); a ``.complete`` marker is written only after Maven succeeded, so a broken download is
retried. ZooKeeper runs from the same jars (Kafka ships it as a dependency).

Version 3.9.1: it is KRaft-capable and still speaks the old protocol versions that Faust's aiokafka
client uses (Kafka 4.0 removed them, KIP-896).
"""
from __future__ import annotations

import os
import shutil
import subprocess
from pathlib import Path

from modeldb.devtools.services.process import ServiceError

KAFKA_VERSION = "3.9.1"

_POM = """<project xmlns="http://maven.apache.org/POM/4.0.0">
  <modelVersion>4.0.0</modelVersion>
  <groupId>modeldb.local</groupId><artifactId>kafka-dist</artifactId><version>1</version>
  <dependencies>
    <dependency><groupId>org.apache.kafka</groupId><artifactId>kafka_2.13</artifactId><version>{version}</version></dependency>
    <dependency><groupId>org.slf4j</groupId><artifactId>slf4j-reload4j</artifactId><version>1.7.36</version></dependency>
  </dependencies>
</project>
"""


def cache_dir() -> Path:
    return Path(os.environ.get("XDG_CACHE_HOME", Path.home() / ".cache")) / "modeldb"


def kafka_libs(version: str = KAFKA_VERSION, quiet: bool = True) -> Path:
    """Resolve Kafka's jars from Maven Central once; later calls reuse the cache."""
    target = cache_dir() / f"kafka-{version}"
    libs = target / "libs"
    if (target / ".complete").exists():
        return libs
    if shutil.which("mvn") is None:
        raise ServiceError("Maven (mvn) is needed to fetch Apache Kafka from Maven Central: apt-get install maven")
    target.mkdir(parents=True, exist_ok=True)
    (target / "pom.xml").write_text(_POM.format(version=version))
    cmd = ["mvn", "-B", "-f", str(target / "pom.xml"), "dependency:copy-dependencies",
           f"-DoutputDirectory={libs}", "-DincludeScope=runtime"]
    if quiet:
        cmd.insert(1, "-q")
    result = subprocess.run(cmd, capture_output=True, text=True)
    if result.returncode != 0:
        raise ServiceError(f"mvn could not fetch Kafka {version}:\n{result.stdout[-2000:]}{result.stderr[-2000:]}")
    (target / ".complete").write_text(version)
    return libs


def _log4j(workdir: Path, logfile: str, extra: str = "") -> Path:
    """A log4j config for a JVM service: warnings and up into ``workdir/logfile``."""
    path = workdir / "log4j.properties"
    path.write_text(f"""log4j.rootLogger=WARN, file
log4j.appender.file=org.apache.log4j.FileAppender
log4j.appender.file.File={workdir}/{logfile}
log4j.appender.file.layout=org.apache.log4j.PatternLayout
log4j.appender.file.layout.ConversionPattern=[%d] %p %m (%c)%n
{extra}""")
    return path


def jvm(what: str, workdir: Path, logfile: str, options: list[str], log4j: str = "") -> list[str]:
    """``java <options> -cp <kafka jars>/*`` for ``what``, logging into ``workdir/logfile``."""
    java = shutil.which("java")
    if java is None:
        raise ServiceError(f"java not found: {what} needs Java 17 (apt-get install openjdk-17-jre-headless)")
    libs = kafka_libs()
    config = _log4j(workdir, logfile, log4j)
    return [java, *options, f"-Dlog4j.configuration=file:{config}", "-cp", f"{libs}/*"]

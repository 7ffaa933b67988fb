# Sourced by bin/mergestream and bin/test: sets MS_JAVA_HOME to a JDK >= 25 (JAVA_HOME first, then the
# JDKs under /usr/lib/jvm, newest first), or prints a one-line error and exits 1.
ms_java_feature() {
  # The JDK's feature version (17, 21, 25 ...) from its release file, or 0.
  local v
  v=$(sed -n 's/^JAVA_VERSION="\([0-9]*\).*/\1/p' "$1/release" 2>/dev/null)
  echo "${v:-0}"
}
MS_MIN_JDK=25
MS_JAVA_HOME=""
for candidate in "${JAVA_HOME:-}" $(ls -d /usr/lib/jvm/*/ 2>/dev/null | sort -Vr); do
  candidate="${candidate%/}"
  [ -n "$candidate" ] && [ -x "$candidate/bin/javac" ] || continue
  if [ "$(ms_java_feature "$candidate")" -ge "$MS_MIN_JDK" ]; then MS_JAVA_HOME="$candidate"; break; fi
done
if [ -z "$MS_JAVA_HOME" ]; then
  echo "mergestream: needs a JDK $MS_MIN_JDK or newer (FFM and Vector API); install one (e.g. Temurin 25) under /usr/lib/jvm or set JAVA_HOME" >&2
  exit 1
fi
export JAVA_HOME="$MS_JAVA_HOME"
# Maven 3.8's bundled Guava warns about sun.misc.Unsafe on new JDKs; the warning is noise, not a problem.
export MAVEN_OPTS="${MAVEN_OPTS:-} --sun-misc-unsafe-memory-access=allow"

"""serve.py, the launcher of ``make run`` and the browser tests: what it preloads is what the pages use."""
from __future__ import annotations

import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
if str(ROOT) not in sys.path:
    sys.path.insert(0, str(ROOT))

import serve  # noqa: E402
from app_ui import filters  # noqa: E402
from app_ui import data as data_mod  # noqa: E402
from il2lib import schema  # noqa: E402
from tests.e2e.server import server_command  # noqa: E402


def _no_second_load(monkeypatch) -> None:
    def no_second_load(*args, **kwargs):
        raise AssertionError("the page read the file again")

    monkeypatch.setattr(data_mod, "load_cohort", no_second_load)  # the loader the page would call


def test_preloaded_sample_is_the_cohort_the_first_page_gets(monkeypatch):
    monkeypatch.delenv(data_mod.SERVER_DATA_ENV, raising=False)
    data_mod._load_path.clear()
    assert serve.preload_data() == "Combined sample (PROCLAIM-like + community-like) · synthetic (107 patients)"
    _no_second_load(monkeypatch)
    # the frame's call on a fresh session: no mapping, the default clinical-benefit rule
    loaded = data_mod.load_current(data_mod.DEFAULT_CHOICE, None, schema.CB_SD_MONTHS_DEFAULT)
    assert loaded.ok and loaded.adverse_events is not None and not loaded.error


def test_a_server_file_is_preloaded_instead_of_the_sample(monkeypatch, tmp_path):
    """The server file is the same for every session: loaded once before the server listens."""
    path = tmp_path / "cohort.csv"
    path.write_bytes(data_mod.SAMPLE_DIR.joinpath(data_mod.SAMPLES[data_mod.DEFAULT_CHOICE].patients_file).read_bytes())
    monkeypatch.setenv(data_mod.SERVER_DATA_ENV, str(path))
    data_mod._load_path.clear()
    assert serve.preload_data() == "Server file: cohort.csv (107 patients)"
    _no_second_load(monkeypatch)
    loaded = data_mod.load_current(data_mod.default_choice(), None, schema.CB_SD_MONTHS_DEFAULT)
    assert loaded.choice == data_mod.SERVER and len(loaded.cohort.data) == 107

    def no_second_read(*args, **kwargs):
        raise AssertionError("the sidebar read the filter options again")

    monkeypatch.setattr(filters, "column_values", no_second_read)
    options = filters.filter_options(loaded.scope, loaded.cohort.fingerprint, loaded.cohort.data)
    assert options.disease == ("melanoma", "rcc")


def test_a_missing_server_file_is_left_to_the_page(monkeypatch, tmp_path):
    monkeypatch.setenv(data_mod.SERVER_DATA_ENV, str(tmp_path / "big.parquet"))
    assert serve.preload_data() is None
    assert serve.warm_up().startswith("Imported the dashboard's libraries in ")


def test_warm_imports_cover_the_first_run_and_nothing_optional():
    serve.warm_imports()
    assert {"pandas", "pyarrow", "scipy.special", "il2lib.validation", "il2lib.survival"} <= set(sys.modules)
    optional = ("lifelines", "statsmodels", "openpyxl", "duckdb", "kaleido", "sqlalchemy")
    assert not any(name in serve.WARM_MODULES for name in optional)


def test_browser_tests_start_the_dashboard_through_the_launcher():
    assert server_command(ROOT / "app.py", 8600)[1] == str(ROOT / "serve.py")
    other = server_command(ROOT / "bench" / "baseline_app.py", 8600)
    assert other[1:4] == ["-m", "streamlit", "run"]


def test_a_failing_warm_up_is_reported_and_the_server_still_starts(monkeypatch):
    def broken(*args, **kwargs):
        raise ImportError("no module named 'pandas'")

    monkeypatch.setattr(serve, "warm_imports", broken)
    assert serve.warm_up() == "Warm-up stopped (ImportError: no module named 'pandas'); starting Streamlit."


# ------------------------------------------------------------------------------ temp files in memory
MOUNTS = serve.parse_mounts(
    "/dev/vda / ext4 rw,relatime 0 0\n"
    "tmpfs /dev/shm tmpfs rw,nosuid,nodev,size=65536k 0 0\n"
    "tmpfs /run tmpfs rw,nosuid,nodev,size=2G 0 0\n"
    "/dev/vdb /run/media/disk\\040two ext4 rw 0 0\n"
    "/dev/vda /tmp ext4 rw 0 0\n"
    "tmpfs /tmp tmpfs rw,size=1G,mode=1777 0 0\n"
    "ramfs /mnt/ram ramfs rw 0 0\n"
)
GIB = 1024 ** 3


def test_a_tmpfs_directory_with_room_for_one_upload_is_accepted():
    assert serve.temp_dir_problem("/dev/shm/il2dash-x", MOUNTS, GIB, 200) == ""
    assert serve.temp_dir_problem("/mnt/ram/tmp", MOUNTS, GIB, 200) == ""


def test_a_later_tmpfs_mounted_over_a_disk_directory_counts():
    # systemd TemporaryFileSystem=/tmp mounts a tmpfs over the disk's /tmp: the later line wins
    assert serve.temp_dir_problem("/tmp", MOUNTS, GIB, 200) == ""


def test_a_disk_directory_is_refused_with_the_setting_to_change():
    problem = serve.temp_dir_problem("/var/tmp", MOUNTS, 100 * GIB, 200)
    assert "on disk" in problem and "ext4" in problem
    assert "TMPDIR" in problem and "TemporaryFileSystem=/tmp" in problem


def test_the_longest_mount_point_decides_not_a_shorter_tmpfs():
    assert serve.mount_of("/run/media/disk two/tmp", MOUNTS).fstype == "ext4"
    assert serve.mount_of("/run/user/0", MOUNTS).fstype == "tmpfs"
    assert serve.mount_of("/runx", MOUNTS).point == "/"  # a prefix of the name, not of the path
    assert "on disk" in serve.temp_dir_problem("/run/media/disk two/tmp", MOUNTS, GIB, 1)


def test_a_tmpfs_too_small_for_one_upload_is_refused_naming_the_upload_limit():
    small = 64 * 1024 * 1024  # Docker's default /dev/shm
    problem = serve.temp_dir_problem("/dev/shm/il2dash-x", MOUNTS, small, 200)
    assert "server.maxUploadSize = 200 MB" in problem and "64 MB free" in problem
    assert "--shm-size" in problem and "TemporaryFileSystem=/tmp:size=1G" in problem
    assert serve.temp_dir_problem("/dev/shm/il2dash-x", MOUNTS, small, 64) == ""


def test_no_mount_table_is_refused():
    assert "Cannot tell" in serve.temp_dir_problem("/tmp", [], GIB, 200)


def test_upload_limit_follows_streamlit_precedence(tmp_path):
    home, project = tmp_path / "home.toml", tmp_path / "project.toml"
    home.write_text("[server]\nmaxUploadSize = 50\n")
    project.write_text("[server]\naddress = '127.0.0.1'\nmaxUploadSize = 300\n")
    assert serve.upload_limit_mb([], {}, []) == serve.DEFAULT_UPLOAD_MB
    assert serve.upload_limit_mb([], {}, [home, tmp_path / "missing.toml"]) == 50
    assert serve.upload_limit_mb([], {}, [home, project]) == 300
    assert serve.upload_limit_mb([], {serve.UPLOAD_ENV: "70"}, [home, project]) == 70
    flags = ["--server.port", "8501", "--server.maxUploadSize", "20"]
    assert serve.upload_limit_mb(flags, {serve.UPLOAD_ENV: "70"}, [project]) == 20
    assert serve.upload_limit_mb(["--server.maxUploadSize=10"], {}, [project]) == 10


def test_the_project_config_limit_is_the_one_checked():
    files = serve.streamlit_config_files()
    assert ROOT / ".streamlit" / "config.toml" in files
    assert serve.upload_limit_mb([], {}, [ROOT / ".streamlit" / "config.toml"]) == 200


def test_the_launcher_moves_the_temp_dir_to_a_private_ram_directory(monkeypatch):
    import os
    import tempfile

    monkeypatch.setenv("TMPDIR", "")  # unset for the launcher, restored afterwards
    monkeypatch.setenv("IL2_TEMP_IN_MEMORY", "")  # the launcher's marker, restored afterwards
    monkeypatch.setattr(tempfile, "tempdir", tempfile.tempdir)
    shm = serve.mount_of("/dev/shm", serve.parse_mounts(Path("/proc/self/mounts").read_text()))
    if shm is None or shm.fstype not in serve.RAM_FILESYSTEMS:
        pytest.skip("no tmpfs /dev/shm here")
    status = serve.use_ram_temp_dir(["--server.maxUploadSize", "1"])
    path = os.environ["TMPDIR"]
    try:
        assert path.startswith("/dev/shm/il2dash-") and tempfile.gettempdir() == path and path in status
        assert os.environ["IL2_TEMP_IN_MEMORY"] == "1"
        assert os.stat(path).st_mode & 0o777 == 0o700
    finally:
        os.rmdir(path)


def test_the_launcher_refuses_a_disk_temp_dir(monkeypatch, tmp_path):
    import tempfile

    mounts = serve.parse_mounts(Path("/proc/self/mounts").read_text())
    if serve.mount_of(str(tmp_path.resolve()), mounts).fstype in serve.RAM_FILESYSTEMS:
        pytest.skip("pytest's tmp_path is on tmpfs here")
    monkeypatch.setenv("TMPDIR", str(tmp_path))
    monkeypatch.setattr(tempfile, "tempdir", tempfile.tempdir)
    with pytest.raises(SystemExit, match="Not starting: .* on disk"):
        serve.use_ram_temp_dir([])
    assert tempfile.tempdir != str(tmp_path)


class _CountingLibc:
    """The real C library, counting the ``malloc_trim`` calls the launcher makes."""

    def __init__(self, libc):
        self.libc, self.trims = libc, 0

    def malloc_trim(self, pad):
        self.trims += 1
        return self.libc.malloc_trim(pad)


def test_freed_heap_goes_back_to_the_kernel_each_time_sessions_close(monkeypatch):
    libc = serve._glibc()
    if libc is None:
        pytest.skip("not glibc")
    counting = _CountingLibc(libc)
    looks = iter([None, 3, 3, 2, 5, 5, 0])  # server not started yet, then the runtime's session list

    def listed():
        try:
            return next(looks)
        except StopIteration:
            raise RuntimeError("the runtime went away") from None  # ends the loop as a moved internal would

    monkeypatch.setattr(serve, "_glibc", lambda: counting)
    monkeypatch.setattr(serve, "_listed_sessions", listed)
    serve.return_freed_memory(check_s=0)
    assert counting.trims == 2  # 3 -> 2 and 5 -> 0; never when sessions open or stay


def test_heap_arenas_are_capped_unless_the_service_sets_them():
    libc = serve._glibc()
    if libc is None:
        pytest.skip("not glibc")
    assert not serve.limit_heap_arenas({"MALLOC_ARENA_MAX": "4"})  # glibc read the variable at start
    assert serve.limit_heap_arenas({})


def test_the_data_page_says_where_an_upload_passes_as_the_launcher_set_it(monkeypatch):
    import tempfile

    from streamlit.testing.v1 import AppTest

    def upload_help() -> str:
        at = AppTest.from_file(str(ROOT / "app.py"), default_timeout=90).run()
        assert not at.exception, [e.value for e in at.exception]
        return at.radio(key="w_data").help

    monkeypatch.delenv(data_mod.TEMP_IN_MEMORY_ENV, raising=False)  # restored (unset) afterwards
    without = upload_help()
    assert "the server's temporary directory" in without and "docs/hospital-deployment.md" in without
    monkeypatch.setenv("TMPDIR", "")
    monkeypatch.setattr(tempfile, "tempdir", tempfile.tempdir)
    shm = serve.mount_of("/dev/shm", serve.parse_mounts(Path("/proc/self/mounts").read_text()))
    if shm is None or shm.fstype not in serve.RAM_FILESYSTEMS:
        pytest.skip("no tmpfs /dev/shm here")
    serve.use_ram_temp_dir([])
    try:
        assert "in-memory temporary storage" in upload_help()
    finally:
        Path(tempfile.gettempdir()).rmdir()

"""Storage switches to S3 when configured (against a real S3-compatible server)."""

from django.core.files.base import ContentFile
from django.core.files.storage import storages


def test_s3_storage_settings_write_to_the_bucket(s3_storage_settings):
    storage = storages["backups"]
    name = storage.save("probe/hello.txt", ContentFile(b"hello"))
    listed = s3_storage_settings["client"].list_objects_v2(Bucket=s3_storage_settings["bucket"])
    assert [obj["Key"] for obj in listed["Contents"]] == [f"backups/{name}"]
    with storages["default"].open(storages["default"].save("m.txt", ContentFile(b"x"))) as fh:
        assert fh.read() == b"x"


def test_local_storage_by_default(settings, tmp_path):
    assert settings.STORAGES["default"]["BACKEND"].endswith("FileSystemStorage")

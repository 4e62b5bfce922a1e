"""DynamoDB item operations are atomic (emulator/atomic_items.py): a consistent read never sees
half of an UpdateItem, however many threads write and read the item at once."""

from __future__ import annotations

import threading


def test_a_read_never_sees_half_an_update(aws):
    dynamodb = aws("dynamodb")
    dynamodb.create_table(
        TableName="atomic",
        KeySchema=[{"AttributeName": "id", "KeyType": "HASH"}],
        AttributeDefinitions=[{"AttributeName": "id", "AttributeType": "S"}],
        BillingMode="PAY_PER_REQUEST",
    )
    dynamodb.put_item(TableName="atomic", Item={"id": {"S": "x"}, "n": {"N": "0"}})
    torn: list[dict] = []
    done = threading.Event()

    def write() -> None:
        for value in range(1, 300):
            # Many SET actions in one update: all of them, or none, are seen.
            sets = ", ".join(f"#a{i} = :v" for i in range(20))
            dynamodb.update_item(
                TableName="atomic",
                Key={"id": {"S": "x"}},
                UpdateExpression=f"SET {sets}, n = :v",
                ExpressionAttributeNames={f"#a{i}": f"a{i}" for i in range(20)},
                ExpressionAttributeValues={":v": {"N": str(value)}},
            )
        done.set()

    def read() -> None:
        while not done.is_set():
            item = dynamodb.get_item(
                TableName="atomic", Key={"id": {"S": "x"}}, ConsistentRead=True
            )
            values = {v["N"] for k, v in item["Item"].items() if k != "id"}
            if len(values) > 1:
                torn.append(item["Item"])

    threads = [threading.Thread(target=write)] + [threading.Thread(target=read) for _ in range(3)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(120)
    assert not torn, f"{len(torn)} reads saw half an update, e.g. {torn[0]}"

select
    order_id,
    customer_id,
    lower(status) as status,
    cast(amount as numeric(10, 2)) as amount,
    cast(ordered_at as timestamp) as ordered_at
from {{ ref('raw_orders') }}

-- Seed 002's sales table with a few sample rows (the blog loads a CSV from S3; the demo needs no bucket).
CREATE TABLE IF NOT EXISTS public.sales_data (
    sku VARCHAR(50),
    product_name VARCHAR(255),
    category VARCHAR(100),
    quantity INT,
    sales_price DECIMAL(10,2),
    "timestamp" TIMESTAMP,
    city VARCHAR(100),
    region_code VARCHAR(10),
    country VARCHAR(10),
    latitude DECIMAL(10,6),
    longitude DECIMAL(10,6),
    population INT,
    elevation INT,
    timezone VARCHAR(50)
);
INSERT INTO public.sales_data VALUES
    ('SKU-1001', 'Trail Runner', 'Footwear', 3, 129.99, '2024-05-01 10:00:00', 'Seattle', 'WA', 'US', 47.606209, -122.332069, 737015, 56, 'America/Los_Angeles'),
    ('SKU-1002', 'Rain Shell', 'Apparel', 1, 89.50, '2024-05-02 11:30:00', 'Berlin', 'BE', 'DE', 52.520008, 13.404954, 3645000, 34, 'Europe/Berlin'),
    ('SKU-1003', 'Yoga Mat', 'Fitness', 5, 25.00, '2024-05-03 09:15:00', 'Tokyo', '13', 'JP', 35.689487, 139.691711, 13960000, 40, 'Asia/Tokyo'),
    ('SKU-1004', 'Climbing Rope', 'Outdoor', 2, 149.00, '2024-05-04 16:45:00', 'Paris', 'IDF', 'FR', 48.856613, 2.352222, 2161000, 35, 'Europe/Paris'),
    ('SKU-1005', 'Tennis Racket', 'Sports', 4, 59.95, '2024-05-05 14:20:00', 'Sydney', 'NSW', 'AU', -33.868820, 151.209290, 5312000, 58, 'Australia/Sydney');

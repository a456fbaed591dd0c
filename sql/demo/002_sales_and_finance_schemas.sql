-- Seed 001's schemas and tables, with its sample rows.
CREATE SCHEMA IF NOT EXISTS sales_schema;
CREATE SCHEMA IF NOT EXISTS finance_schema;
CREATE TABLE IF NOT EXISTS finance_schema.revenue (
    account INTEGER ENCODE az64,
    customer VARCHAR(20) ENCODE lzo,
    salesamt NUMERIC(18,0) ENCODE az64
);
INSERT INTO finance_schema.revenue VALUES (10001, 'ABC Company', 12000), (10002, 'Tech Logistics', 175400),
    (10003, 'XYZ Industry', 24355), (10004, 'The tax experts', 186577);
CREATE TABLE IF NOT EXISTS sales_schema.store_sales (
    id INTEGER ENCODE az64,
    product VARCHAR(20),
    sales_amount INTEGER ENCODE az64
);
INSERT INTO sales_schema.store_sales VALUES (1, 'product1', 1000), (2, 'product2', 2000), (3, 'product3', 3000),
    (4, 'product4', 4000);

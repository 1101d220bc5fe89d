ALTER TABLE `accounts` ADD `proxy` text;

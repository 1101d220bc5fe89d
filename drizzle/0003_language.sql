ALTER TABLE `accounts` ADD `language` text;
